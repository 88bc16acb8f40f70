// The released LMEye v0 served end to end: `lmeye import lingcloud` on a fixture's own files
// (legacy .pth, resized LLM, CLIP), then `lmeye serve` on the result; AnswerVQA with the fixture's
// question and image answers with the fixture's greedy ids (the release's QA prompt, built by the
// edge from the v0 templates), Describe with the description sample's, and the prompt takes the
// fixture's number of positions; without num_beams AnswerVQA answers with the release's beam 5.
#include <cstdlib>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lmeye/v1/lmeye.grpc.pb.h"
#include "model/common/file_util.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "tests/server/serve_process.h"

namespace lmeye {
namespace {

using testing::ReadWholeFile;
using testing::TestData;

class ServeLingcloudTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ServeLingcloudTest, AnImportedReleaseAnswersWithTheGoldenIds) {
  const std::string fixture = TestData("models/" + GetParam());
  testing::ScratchDir scratch("serve_lingcloud");
  const std::string model = scratch.Path("model");
  const std::string import = absl::StrCat(
      LMEYE_BINARY, " import lingcloud --checkpoint ", fixture, "/lingcloud_checkpoint.pth --llm ",
      fixture, "/llm --clip ", fixture, "/clip --out ", model, " > ", model, ".log 2>&1");
  ASSERT_EQ(std::system(import.c_str()), 0) << ReadWholeFile(model + ".log");

  testing::ServeProcess server(model, {}, scratch.path());
  ASSERT_TRUE(server.started()) << server.log();
  auto stub = v1::Lmeye::NewStub(server.Channel());
  absl::StatusOr<nlohmann::json> golden = ReadJsonFile(fixture + "/golden.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(fixture + "/llm");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();

  int served = 0;
  for (const nlohmann::json& sample : (*golden)["samples"]) {
    if (sample["add_bos"].get<bool>()) continue;  // the import's default: no BOS
    const std::vector<int> ids = sample["generate_ids"].get<std::vector<int>>();
    absl::StatusOr<std::string> expected = (*tokenizer)->Decode(ids);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const std::string image =
        ReadWholeFile(TestData("images/" + sample["image"].get<std::string>()));
    ASSERT_FALSE(image.empty());
    v1::GenerationParams params;
    params.set_max_new_tokens(static_cast<uint32_t>(ids.size()));
    params.set_num_beams(1);
    params.set_temperature(0);
    std::string answer;
    v1::Final final;
    grpc::ClientContext context;
    grpc::Status status;
    if (sample["task"] == "qa") {
      v1::AnswerVQARequest request;
      request.set_image(image);
      request.set_question(sample["question_or_input_text"].get<std::string>());
      *request.mutable_params() = params;
      v1::AnswerVQAResponse response;
      status = stub->AnswerVQA(&context, request, &response);
      answer = response.answer();
      final = response.final();
    } else {
      v1::DescribeRequest request;
      request.set_image(image);
      *request.mutable_params() = params;
      v1::DescribeResponse response;
      status = stub->Describe(&context, request, &response);
      answer = response.text();
      final = response.final();
    }
    ASSERT_TRUE(status.ok()) << sample["sample"] << ": " << status.error_message() << "\n"
                             << server.log();
    EXPECT_EQ(absl::StripAsciiWhitespace(answer), absl::StripAsciiWhitespace(*expected))
        << sample["sample"];
    EXPECT_EQ(final.usage().generated_tokens(), ids.size()) << sample["sample"];
    EXPECT_EQ(final.usage().prompt_tokens(), sample["input_ids"].size()) << sample["sample"];
    if (sample["task"] == "qa") {
      // Without num_beams AnswerVQA takes this layout's own QA setting: beam 5, as the release.
      const std::vector<int> beam = sample["beam5_ids"].get<std::vector<int>>();
      absl::StatusOr<std::string> beam_text = (*tokenizer)->Decode(beam);
      ASSERT_TRUE(beam_text.ok()) << beam_text.status();
      v1::AnswerVQARequest request;
      request.set_image(image);
      request.set_question(sample["question_or_input_text"].get<std::string>());
      request.mutable_params()->set_max_new_tokens(static_cast<uint32_t>(beam.size()));
      v1::AnswerVQAResponse response;
      grpc::ClientContext beam_context;
      ASSERT_TRUE(stub->AnswerVQA(&beam_context, request, &response).ok());
      EXPECT_EQ(absl::StripAsciiWhitespace(response.answer()),
                absl::StripAsciiWhitespace(*beam_text))
          << sample["sample"];
    }
    ++served;
  }
  EXPECT_EQ(served, 2);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(30), 0) << server.log();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ServeLingcloudTest,
                         ::testing::Values("lingcloud-v0-tiny-llama", "lingcloud-v0-tiny-bloom"),
                         [](const auto& info) {
                           return std::string(
                               info.param.find("llama") != std::string::npos ? "llama" : "bloom");
                         });

// The released v0.1 (BLIP-2 Flan-T5) served end to end the same way: Describe, AnswerVQA (a
// detailed answer) and Chat, each with its sample's image and prompt, answer with the fixture's
// greedy ids (the app_demo.py prompt built by the edge; T5's encoder-decoder engine); without
// num_beams AnswerVQA answers with beam 5.
TEST(ServeLingcloudV01Test, AnImportedReleaseAnswersWithTheGoldenIds) {
  const std::string fixture = TestData("models/lingcloud-blip2-tiny");
  testing::ScratchDir scratch("serve_lingcloud_v01");
  const std::string model = scratch.Path("model");
  const std::string import = absl::StrCat(
      LMEYE_BINARY, " import lingcloud --checkpoint ", fixture, "/lmeye_checkpoint.pth --blip2 ",
      fixture, "/blip2 --clip ", fixture, "/clip --out ", model, " > ", model, ".log 2>&1");
  ASSERT_EQ(std::system(import.c_str()), 0) << ReadWholeFile(model + ".log");

  testing::ServeProcess server(model, {}, scratch.path());
  ASSERT_TRUE(server.started()) << server.log();
  auto stub = v1::Lmeye::NewStub(server.Channel());
  absl::StatusOr<nlohmann::json> golden = ReadJsonFile(fixture + "/golden.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(fixture + "/blip2");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const nlohmann::json& samples = (*golden)["samples"];
  ASSERT_EQ(samples.size(), 3u);
  // The text of a sample's ids as the server streams it: ids past the tokenizer (T5's table has
  // unused rows, like flan-t5's 32128 for 32100 tokens; the random tiny model picks some) have
  // none.
  auto text_of = [&](const char* key, int sample) {
    std::vector<int> ids;
    for (int id : samples[sample][key].get<std::vector<int>>()) {
      if (id < (*tokenizer)->vocab_size()) ids.push_back(id);
    }
    absl::StatusOr<std::string> text = (*tokenizer)->Decode(ids);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? std::string(absl::StripAsciiWhitespace(*text)) : "";
  };
  auto image_of = [&](int sample) {
    return ReadWholeFile(TestData("images/" + samples[sample]["image"].get<std::string>()));
  };
  v1::GenerationParams greedy;
  greedy.set_max_new_tokens(8);
  greedy.set_num_beams(1);
  greedy.set_temperature(0);

  // s0: the description prompt.
  v1::DescribeRequest describe;
  describe.set_image(image_of(0));
  *describe.mutable_params() = greedy;
  v1::DescribeResponse described;
  grpc::ClientContext describe_context;
  grpc::Status status = stub->Describe(&describe_context, describe, &described);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << server.log();
  EXPECT_EQ(absl::StripAsciiWhitespace(described.text()), text_of("generate_ids", 0));
  EXPECT_EQ(described.final().usage().generated_tokens(), 8u);
  // The prompt's ids and one position for the image (its Q-Former rows).
  EXPECT_EQ(described.final().usage().prompt_tokens(), samples[0]["input_ids"].size() + 1);

  // s1: a question with a detailed answer, greedy and then the layout's default beam 5.
  for (bool beams : {false, true}) {
    v1::AnswerVQARequest ask;
    ask.set_image(image_of(1));
    ask.set_question("What is in the cup?");
    ask.set_style(v1::ANSWER_STYLE_LONG);
    if (beams) {
      ask.mutable_params()->set_max_new_tokens(8);
    } else {
      *ask.mutable_params() = greedy;
    }
    v1::AnswerVQAResponse answered;
    grpc::ClientContext context;
    status = stub->AnswerVQA(&context, ask, &answered);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << server.log();
    EXPECT_EQ(absl::StripAsciiWhitespace(answered.answer()),
              text_of(beams ? "beam5_ids" : "generate_ids", 1))
        << (beams ? "beam 5" : "greedy");
  }

  // s2: the chat prompt, streamed.
  v1::ChatRequest chat;
  chat.set_image(image_of(2));
  v1::Message* message = chat.add_messages();
  message->set_role("human");
  message->set_text(samples[2]["prompt"].get<std::string>());
  *chat.mutable_params() = greedy;
  grpc::ClientContext chat_context;
  auto reader = stub->Chat(&chat_context, chat);
  std::string streamed;
  v1::ChatResponse event;
  while (reader->Read(&event)) {
    if (event.has_delta()) streamed += event.delta();
  }
  status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << server.log();
  EXPECT_EQ(absl::StripAsciiWhitespace(streamed), text_of("generate_ids", 2));

  v1::ModelInfo info;
  grpc::ClientContext info_context;
  ASSERT_TRUE(stub->GetModelInfo(&info_context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.adapter_layout(), "lingcloud-v0.1");
  EXPECT_NE(info.llm_backbone().find("t5 width=48"), std::string::npos) << info.llm_backbone();
  EXPECT_NE(info.vision_backbone().find("blip2-vit+qformer"), std::string::npos)
      << info.vision_backbone();

  // Multiple choice: each choice scored as the decoder's first tokens; the answer is one of them.
  v1::AnswerVQARequest choose;
  choose.set_image(image_of(1));
  choose.set_question("What is in the cup?");
  choose.add_choices("tea");
  choose.add_choices("coffee");
  v1::AnswerVQAResponse chosen;
  grpc::ClientContext choose_context;
  status = stub->AnswerVQA(&choose_context, choose, &chosen);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << server.log();
  ASSERT_EQ(chosen.choice_scores_size(), 2);
  EXPECT_TRUE(chosen.answer() == "tea" || chosen.answer() == "coffee") << chosen.answer();
  for (const v1::ChoiceScore& score : chosen.choice_scores()) {
    EXPECT_LT(score.total_logprob(), 0.0);
    EXPECT_GT(score.tokens(), 0u);
  }

  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(30), 0) << server.log();
}

}  // namespace
}  // namespace lmeye
