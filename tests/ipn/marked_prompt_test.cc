// The released v0 layout's prompts: PromptBuilder with the release's templates and tokenization
// gives exactly the fixtures' input_ids (transformers 4.29: LLaMA's slow tokenizer strips around
// the added tokens, BLOOM's fast one keeps the spaces); markers come only from templates.
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/common/file_util.h"
#include "model/ipn/marked_prompt.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

struct Fixture {
  std::string name;
  bool strip;
  int img_id, imgd_id;
  friend std::ostream& operator<<(std::ostream& os, const Fixture& f) { return os << f.name; }
};

// The prompt as the reference's input_ids: the markers as the added tokens' ids.
std::vector<int64_t> AsIds(const IpnPrompt& p, int img_id, int imgd_id) {
  std::vector<int64_t> ids(p.prefix.begin(), p.prefix.end());
  ids.push_back(img_id);
  ids.insert(ids.end(), p.text.begin(), p.text.end());
  for (int id : p.tail) ids.push_back(id == kSlotPosition ? imgd_id : id);
  return ids;
}

MarkedPromptOptions Slots(int n) {
  MarkedPromptOptions options;
  options.n_slots = n;
  return options;
}

class MarkedPromptTest : public ::testing::TestWithParam<Fixture> {};

TEST_P(MarkedPromptTest, TheReleasePromptsGiveTheGoldenIds) {
  const Fixture& f = GetParam();
  const std::string dir = testing::TestData("models/" + f.name);
  absl::StatusOr<nlohmann::json> golden = ReadJsonFile(dir + "/golden.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir + "/llm");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  int n = 0;
  for (const nlohmann::json& sample : (*golden)["samples"]) {
    MarkedPromptOptions marked;
    marked.n_slots = 5;
    marked.strip_around_markers = f.strip;
    marked.add_bos = sample["add_bos"].get<bool>();
    absl::StatusOr<PromptBuilder> builder =
        PromptBuilder::Create(tokenizer->get(), LingcloudV0PromptTemplates(5), {}, marked);
    ASSERT_TRUE(builder.ok()) << builder.status();
    const std::string task = sample["task"].get<std::string>();
    const std::string text = sample["question_or_input_text"].get<std::string>();
    absl::StatusOr<IpnPrompt> prompt = task == "qa"
                                           ? builder->AnswerVqa(text)
                                           : builder->Chat({ChatMessage{ChatRole::kHuman, text}});
    ASSERT_TRUE(prompt.ok()) << prompt.status();
    const std::vector<int64_t> want = sample["input_ids"].get<std::vector<int64_t>>();
    EXPECT_EQ(AsIds(*prompt, f.img_id, f.imgd_id), want) << sample["sample"];
    EXPECT_EQ(prompt->n_positions(), static_cast<int>(want.size()));
    if (task != "qa") {
      absl::StatusOr<IpnPrompt> describe = builder->Describe();
      ASSERT_TRUE(describe.ok()) << describe.status();
      EXPECT_EQ(AsIds(*describe, f.img_id, f.imgd_id), want) << sample["sample"];
    }
    ++n;
  }
  EXPECT_GE(n, 3);
  EXPECT_EQ(n, static_cast<int>((*golden)["samples"].size()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MarkedPromptTest,
                         ::testing::Values(Fixture{"lingcloud-v0-tiny-llama", true, 512, 513},
                                           Fixture{"lingcloud-v0-tiny-bloom", false, 700, 701}),
                         [](const auto& info) {
                           return std::string(info.param.strip ? "llama" : "bloom");
                         });

TEST(MarkedPromptLayoutTest, QuestionsCannotCreateMarkers) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      LoadTokenizer(testing::TestData("models/lingcloud-v0-tiny-llama/llm"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  absl::StatusOr<PromptBuilder> builder = PromptBuilder::Create(
      tokenizer->get(), LingcloudV0PromptTemplates(5), {}, MarkedPromptOptions{});
  ASSERT_TRUE(builder.ok()) << builder.status();
  absl::StatusOr<IpnPrompt> prompt = builder->AnswerVqa("is it <img-d> or <img>?");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  int slots = 0;
  for (int id : prompt->tail) slots += id == kSlotPosition ? 1 : 0;
  EXPECT_EQ(slots, 5);
  for (int id : prompt->text) {
    EXPECT_NE(id, 512);
    EXPECT_NE(id, 513);
  }
}

TEST(MarkedPromptLayoutTest, TemplatesMustHoldTheMarkers) {
  PromptTemplates t = LingcloudV0PromptTemplates(5);
  EXPECT_TRUE(ValidateMarkedTemplates(t, Slots(5)).ok());
  absl::Status four = ValidateMarkedTemplates(t, Slots(4));
  EXPECT_FALSE(four.ok());
  EXPECT_NE(four.message().find("prompts."), absl::string_view::npos) << four;
  PromptTemplates no_image = t;
  no_image.vqa_short = "Question: {q} <img-d> <img-d> <img-d> <img-d> <img-d>\nAnswer:";
  absl::Status s = ValidateMarkedTemplates(no_image, Slots(5));
  EXPECT_NE(s.message().find("prompts.vqa_short"), absl::string_view::npos) << s;
  PromptTemplates slot_first = t;
  slot_first.describe = "<img-d> <img> <img-d> <img-d> <img-d> <img-d>";
  EXPECT_FALSE(ValidateMarkedTemplates(slot_first, Slots(5)).ok());
  PromptTemplates marked_turn = t;
  marked_turn.chat_turn = "Human: {q} <img>\nAssistant: {a}\n";
  s = ValidateMarkedTemplates(marked_turn, Slots(5));
  EXPECT_NE(s.message().find("prompts.chat_turn"), absl::string_view::npos) << s;
}

// v0.1 (BLIP-2 T5): the release's prompt around each sample's question gives the fixture's ids:
// "<img>" is text, <img-q> the request token, the <img-d>s slots, </s> last.
TEST(MarkedPromptV01Test, TheReleasePromptGivesTheGoldenIds) {
  const std::string dir = testing::TestData("models/lingcloud-blip2-tiny");
  auto tokenizer = LoadTokenizer(dir + "/blip2");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto golden = ReadJsonFile(dir + "/golden.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  const int imgd = (*golden)["release_settings"]["imgd_token_id"].get<int>();
  MarkedPromptOptions options;
  options.n_slots = 5;
  options.image_marker = false;
  options.query_token_id = (*golden)["release_settings"]["imgq_token_id"].get<int>();
  options.add_eos = true;
  auto builder =
      PromptBuilder::Create(tokenizer->get(), LingcloudV01PromptTemplates(5), {}, options);
  ASSERT_TRUE(builder.ok()) << builder.status();
  const nlohmann::json& samples = (*golden)["samples"];
  // The fixture's prompts: the describe template's, a detailed question, a chat message.
  std::vector<absl::StatusOr<IpnPrompt>> built = {
      builder->Describe(), builder->AnswerVqa("What is in the cup?", VqaStyle::kLong),
      builder->Chat({{ChatRole::kHuman, samples[2]["prompt"].get<std::string>()}})};
  for (size_t i = 0; i < built.size(); ++i) {
    ASSERT_TRUE(built[i].ok()) << built[i].status();
    EXPECT_TRUE(built[i]->prefix.empty());
    std::vector<int64_t> ids(built[i]->text.begin(), built[i]->text.end());
    for (int id : built[i]->tail) ids.push_back(id == kSlotPosition ? imgd : id);
    EXPECT_EQ(ids, samples[i]["input_ids"].get<std::vector<int64_t>>()) << i;
  }
  // A question holding the markers keeps them as text.
  auto typed = builder->AnswerVqa("is <img-q> <img-d> here?", VqaStyle::kLong);
  ASSERT_TRUE(typed.ok()) << typed.status();
  int slots = 0, queries = 0;
  for (int id : typed->text) queries += id == options.query_token_id ? 1 : 0;
  for (int id : typed->tail) slots += id == kSlotPosition ? 1 : 0;
  EXPECT_EQ(queries, 1);
  EXPECT_EQ(slots, 5);
}

TEST(MarkedPromptV01Test, TemplatesMustHoldTheRequestMarker) {
  MarkedPromptOptions options;
  options.image_marker = false;
  options.query_token_id = 7;
  PromptTemplates t = LingcloudV01PromptTemplates(5);
  EXPECT_TRUE(ValidateMarkedTemplates(t, options).ok());
  PromptTemplates no_query = t;
  no_query.describe = "Human: hi <img-d> <img-d> <img-d> <img-d> <img-d>\nAssistant:";
  absl::Status s = ValidateMarkedTemplates(no_query, options);
  EXPECT_NE(s.message().find("prompts.describe"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("one <img-q>"), absl::string_view::npos) << s;
  PromptTemplates late_query = t;
  late_query.describe = "Human: hi <img-d> <img-d> <img-d> <img-d> <img-d> <img-q>";
  EXPECT_FALSE(ValidateMarkedTemplates(late_query, options).ok());
}

}  // namespace
}  // namespace lmeye
