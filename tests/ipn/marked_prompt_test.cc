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
  EXPECT_TRUE(ValidateMarkedTemplates(t, 5).ok());
  absl::Status four = ValidateMarkedTemplates(t, 4);
  EXPECT_FALSE(four.ok());
  EXPECT_NE(four.message().find("prompts."), absl::string_view::npos) << four;
  PromptTemplates no_image = t;
  no_image.vqa_short = "Question: {q} <img-d> <img-d> <img-d> <img-d> <img-d>\nAnswer:";
  absl::Status s = ValidateMarkedTemplates(no_image, 5);
  EXPECT_NE(s.message().find("prompts.vqa_short"), absl::string_view::npos) << s;
  PromptTemplates slot_first = t;
  slot_first.describe = "<img-d> <img> <img-d> <img-d> <img-d> <img-d>";
  EXPECT_FALSE(ValidateMarkedTemplates(slot_first, 5).ok());
  PromptTemplates marked_turn = t;
  marked_turn.chat_turn = "Human: {q} <img>\nAssistant: {a}\n";
  s = ValidateMarkedTemplates(marked_turn, 5);
  EXPECT_NE(s.message().find("prompts.chat_turn"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace lmeye
