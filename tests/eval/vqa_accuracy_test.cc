#include "model/eval/vqa_accuracy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/common/test_data.h"
#include "tests/eval/fixture_cases.h"

namespace lmeye::eval {
namespace {

using testing::MetricCases;

TEST(EvalVqaAccuracyTest, EveryFixtureQuestionMatchesVqaEval) {
  const auto& vqa = MetricCases()["vqa_short_answer"];
  ASSERT_EQ(vqa["items"].size(), 22u);
  std::vector<VqaScoredQuestion> scored;
  for (const auto& item : vqa["items"]) {
    SCOPED_TRACE(item["question_id"].dump());
    const VqaAnswerScore score =
        ScoreVqaAnswer(item["candidate"], item["answers"].get<std::vector<std::string>>());
    EXPECT_EQ(score.normalisation_applied, item["normalisation_applied"].get<bool>());
    EXPECT_EQ(score.candidate_processed, item["candidate_processed"].get<std::string>());
    EXPECT_EQ(score.answers_processed, item["answers_processed"].get<std::vector<std::string>>());
    EXPECT_EQ(score.num_matching_answers, item["num_matching_answers"].get<int>());
    EXPECT_EQ(score.accuracy, item["accuracy"].get<double>());  // exact, as the reference
    EXPECT_EQ(PythonRound2(100 * score.accuracy), item["accuracy_official_rounded"].get<double>());
    scored.push_back({score.accuracy, item["answer_type"], item["question_type"]});
  }
  const VqaSummary summary = SummarizeVqa(scored);
  EXPECT_EQ(summary.overall, vqa["overall_official"].get<double>());
  EXPECT_EQ(summary.overall_exact, vqa["overall_exact"].get<double>());
  for (const auto& [type, value] : vqa["perAnswerType_official"].items()) {
    EXPECT_EQ(summary.per_answer_type.at(type), value.get<double>()) << type;
  }
  for (const auto& [type, value] : vqa["perQuestionType_official"].items()) {
    EXPECT_EQ(summary.per_question_type.at(type), value.get<double>()) << type;
  }
}

TEST(EvalVqaAccuracyTest, NormalisationQuirks) {
  // Punctuation next to a space is deleted, elsewhere replaced by a space.
  EXPECT_EQ(VqaProcessPunctuation("2 - 1"), "2  1");
  EXPECT_EQ(VqaProcessPunctuation("t-shirt"), "t shirt");
  // A digit,digit anywhere deletes every punctuation mark.
  EXPECT_EQ(VqaProcessPunctuation("1,000 (approx)"), "1000 approx");
  // Periods before digits survive.
  EXPECT_EQ(VqaProcessPunctuation("5.5 ft."), "5.5 ft");
  EXPECT_EQ(VqaProcessDigitArticle("The Two dogs dont"), "2 dogs don't");
  EXPECT_EQ(VqaNormalizeAnswer("An Umbrella!"), "umbrella");
}

TEST(EvalVqaAccuracyTest, LeaveOneOutAverage) {
  const std::vector<std::string> answers = {"a", "b", "b", "c", "c", "c", "d", "d", "d", "d"};
  // "b": 2 matches -> subsets without a "b" see 2 (x8), with one removed 1 (x2): (8*2/3+2/3)/10.
  EXPECT_DOUBLE_EQ(ScoreVqaAnswer("b", answers).accuracy, (8 * 2.0 / 3 + 2 * 1.0 / 3) / 10);
  EXPECT_DOUBLE_EQ(ScoreVqaAnswer("d", answers).accuracy, 1.0);
  EXPECT_DOUBLE_EQ(ScoreVqaAnswer("zzz", answers).accuracy, 0.0);
}

TEST(EvalVqaAccuracyTest, ExactMatch) {
  EXPECT_EQ(ExactMatch("The cat.", "cat"), 1.0);
  EXPECT_EQ(ExactMatch("cats", "cat"), 0.0);
  EXPECT_EQ(ExactMatch("The cat.", "cat", /*normalise=*/false), 0.0);
}

TEST(EvalVqaAccuracyTest, PythonRound) {
  EXPECT_EQ(PythonRound2(66.666666), 66.67);
  EXPECT_EQ(PythonRound2(0.125), 0.12);  // ties to even on the exact binary value
  EXPECT_EQ(PythonRound2(2.675), 2.67);  // 2.675 is 2.67499999... in binary
}

// 1,500 random answers normalised by the official processPunctuation + processDigitArticle.
TEST(EvalVqaAccuracyTest, NormalizationMatchesVqaEvalOnRandomAnswers) {
  std::ifstream in(lmeye::testing::TestData("metrics/vqa_normalization_golden.json"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const nlohmann::json golden = nlohmann::json::parse(buffer.str());
  const auto inputs = golden["inputs"].get<std::vector<std::string>>();
  const auto expected = golden["normalized"].get<std::vector<std::string>>();
  ASSERT_EQ(inputs.size(), expected.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(VqaNormalizeAnswer(inputs[i]), expected[i]) << inputs[i];
  }
}

}  // namespace
}  // namespace lmeye::eval
