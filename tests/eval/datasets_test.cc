// Readers, prediction files, scoring and reports on the real annotation samples in
// tests/data/data. VQA expectations were produced by running the official vqaEval.py on the same
// samples and predictions; caption expectations are worked out by hand in the comments.
#include "model/eval/datasets.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "model/eval/predictions.h"
#include "model/eval/report.h"
#include "model/eval/scoring.h"
#include "model/eval/vqa_accuracy.h"
#include "nlohmann/json.hpp"
#include "tests/common/test_data.h"

namespace lmeye::eval {
namespace {

std::string DataFile(const std::string& name) { return lmeye::testing::TestData("data/" + name); }

const MeteorResources* Meteor() {
  static const MeteorResources* resources = [] {
    auto loaded = MeteorResources::Load(lmeye::testing::TestDataDir() + "/../../model/eval/meteor");
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return resources;
}

// The raw records of a JSONL file, for fields the readers do not keep.
std::vector<nlohmann::json> RawRecords(const std::string& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) records.push_back(nlohmann::json::parse(line));
  }
  return records;
}

std::vector<Prediction> PredictEach(const EvalDataset& dataset,
                                    const std::function<std::string(size_t)>& answer) {
  std::vector<Prediction> predictions;
  for (size_t i = 0; i < dataset.items.size(); ++i) {
    predictions.push_back({dataset.items[i].id, dataset.items[i].id_is_number, answer(i)});
  }
  return predictions;
}

TEST(EvalDatasetsTest, VqaV2SampleParses) {
  auto dataset = ReadJsonlDataset(DataFile("vqav2_val_first100.jsonl"), EvalTask::kVqa);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->items.size(), 100u);
  const EvalItem& first = dataset->items[0];
  EXPECT_EQ(first.id, "262148000");
  EXPECT_TRUE(first.id_is_number);
  EXPECT_EQ(first.image, "val2014/COCO_val2014_000000262148.jpg");
  EXPECT_EQ(first.question, "Where is he looking?");
  EXPECT_EQ(first.answer_type, "other");
  EXPECT_EQ(first.question_type, "none of the above");
  ASSERT_EQ(first.answers.size(), 10u);
  // Hand-checked: "down" x7, "at table", "skateboard", "table".
  EXPECT_EQ(ScoreVqaAnswer("down", first.answers).accuracy, 1.0);
  // "table" matches once: 9 subsets see 1 match (1/3), the one without it sees 0 -> 0.3.
  EXPECT_DOUBLE_EQ(ScoreVqaAnswer("Table.", first.answers).accuracy, 0.3);
  EXPECT_EQ(dataset->items[1].question, "What are the people in the background doing?");
  // The sample knows few question texts; a null question reads as empty.
  EXPECT_EQ(dataset->items[5].question, "");
}

TEST(EvalDatasetsTest, VqaV2SampleScoresLikeVqaEval) {
  auto dataset = ReadJsonlDataset(DataFile("vqav2_val_first100.jsonl"), EvalTask::kVqa);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const auto raw = RawRecords(DataFile("vqav2_val_first100.jsonl"));
  // Predicting the multiple-choice answer.
  auto report = ScorePredictions(*dataset, PredictEach(*dataset, [&](size_t i) {
    return raw[i]["multiple_choice_answer"].get<std::string>();
  }));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->metrics.at("accuracy"), 98.4);
  EXPECT_EQ(report->breakdowns.at("perAnswerType").at("other"), 96.28);
  EXPECT_EQ(report->breakdowns.at("perAnswerType").at("yes/no"), 100.0);
  // Predicting the last human answer, upper-cased with a period (exercises normalisation).
  report = ScorePredictions(*dataset, PredictEach(*dataset, [&](size_t i) {
    std::string answer = dataset->items[i].answers.back();
    for (char& c : answer) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return answer + ".";
  }));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->metrics.at("accuracy"), 51.1);
  EXPECT_EQ(report->breakdowns.at("perAnswerType").at("other"), 64.65);
  EXPECT_EQ(report->breakdowns.at("perAnswerType").at("yes/no"), 37.0);
  EXPECT_EQ(report->breakdowns.at("perAnswerType").at("number"), 50.0);
  EXPECT_EQ(report->breakdowns.at("perQuestionType").at("how many"), 53.12);
  EXPECT_EQ(report->breakdowns.at("perQuestionType").at("what color is the"), 82.22);
  EXPECT_EQ(report->n_missing, 0);
}

TEST(EvalDatasetsTest, TextVqaSampleScoresLikeVqaEval) {
  auto dataset = ReadJsonlDataset(DataFile("textvqa_val_first100.jsonl"), EvalTask::kVqa);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->items.size(), 100u);
  EXPECT_EQ(dataset->items[0].answers[0], "nous les gosses");
  auto report = ScorePredictions(
      *dataset, PredictEach(*dataset, [&](size_t i) { return dataset->items[i].answers[0]; }));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->metrics.at("accuracy"), 88.6);
}

TEST(EvalDatasetsTest, VqaV2OfficialTwoFileFormat) {
  const std::string questions = R"({"questions": [
      {"question_id": 1, "image_id": 10, "question": "How many?"},
      {"question_id": 2, "image_id": 10, "question": "What color?"}]})";
  const std::string annotations = R"({"annotations": [
      {"question_id": 2, "image_id": 10, "answer_type": "other", "question_type": "what color",
       "answers": [{"answer": "red", "answer_id": 1}, {"answer": "red", "answer_id": 2}]},
      {"question_id": 1, "image_id": 10, "answer_type": "number", "question_type": "how many",
       "answers": [{"answer": "2", "answer_id": 1}, {"answer": "two", "answer_id": 2}]}]})";
  auto dataset = ParseVqaV2Dataset(questions, annotations);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->items.size(), 2u);
  EXPECT_EQ(dataset->items[0].id, "2");
  EXPECT_EQ(dataset->items[0].question, "What color?");
  EXPECT_EQ(dataset->items[1].question, "How many?");
  EXPECT_EQ(dataset->items[1].answers, (std::vector<std::string>{"2", "two"}));
  // A question without annotation is an error.
  EXPECT_FALSE(ParseVqaV2Dataset(R"({"questions": [{"question_id": 3, "question": "?"}]})",
                                 R"({"annotations": []})")
                   .ok());
}

TEST(EvalDatasetsTest, LmeyeLongAnswerSample) {
  auto qa = ReadDataset(DataFile("lmeye_ccsbu_detail_qa_sample.jsonl"), EvalTask::kLong);
  ASSERT_TRUE(qa.ok()) << qa.status();
  ASSERT_EQ(qa->items.size(), 203u * 5);
  const EvalItem& weather = qa->items[2];
  EXPECT_EQ(weather.id, "2_2");
  EXPECT_EQ(weather.image, "cc_sbu_align/image/2.jpg");
  EXPECT_EQ(weather.question, "What is the weather like in the image?");
  EXPECT_EQ(weather.references, std::vector<std::string>{"The sky is cloudy in the image."});

  auto describe = ReadDataset(DataFile("lmeye_ccsbu_detail_qa_sample.jsonl"), EvalTask::kDescribe);
  ASSERT_TRUE(describe.ok()) << describe.status();
  ASSERT_EQ(describe->items.size(), 203u);
  EXPECT_EQ(describe->items[0].id, "2");
  EXPECT_TRUE(describe->items[0].question.empty());
}

TEST(EvalDatasetsTest, LmeyeLongAnswerScoring) {
  auto qa = ReadDataset(DataFile("lmeye_ccsbu_detail_qa_sample.jsonl"), EvalTask::kLong);
  ASSERT_TRUE(qa.ok()) << qa.status();
  ScoringOptions options;
  options.meteor = Meteor();
  ASSERT_NE(options.meteor, nullptr);

  // Predicting the reference itself: BLEU ~1, ROUGE-L 1, METEOR 1.
  auto perfect = ScorePredictions(
      *qa, PredictEach(*qa, [&](size_t i) { return qa->items[i].references[0]; }), options);
  ASSERT_TRUE(perfect.ok()) << perfect.status();
  EXPECT_NEAR(perfect->metrics.at("Bleu_1"), 1.0, 1e-8);
  EXPECT_NEAR(perfect->metrics.at("Bleu_2"), 1.0, 1e-8);
  EXPECT_DOUBLE_EQ(perfect->metrics.at("ROUGE_L"), 1.0);
  EXPECT_DOUBLE_EQ(perfect->metrics.at("METEOR"), 1.0);
  EXPECT_GT(perfect->metrics.at("CIDEr"), 1.0);

  // One shortened answer, checked by hand: "the sky is cloudy" against
  // "the sky is cloudy in the image" (7 tokens).
  auto shortened = ScorePredictions(*qa,
                                    PredictEach(*qa,
                                                [&](size_t i) {
                                                  return i == 2 ? std::string("The sky is cloudy.")
                                                                : qa->items[i].references[0];
                                                }),
                                    options);
  ASSERT_TRUE(shortened.ok()) << shortened.status();
  const auto& item = shortened->items[2].metrics;
  // BLEU-1: 4/4 matched unigrams, brevity penalty exp(1 - 7/4).
  EXPECT_NEAR(item.at("Bleu_1"), std::exp(1.0 - 7.0 / 4.0), 1e-8);
  // ROUGE-L: LCS 4, P = 1, R = 4/7, F = 2.44 P R / (R + 1.44 P).
  EXPECT_NEAR(item.at("ROUGE_L"), 2.44 * (4.0 / 7) / (4.0 / 7 + 1.44), 1e-12);
  // METEOR: function words the/is (test) and the/is/in/the (ref); P = 2/2, R = 2/3.25,
  // Fmean = 1 / (0.15/P + 0.85/R); one chunk over 4 matches: penalty 0.6 * 0.25^0.2.
  const double recall = 2.0 / 3.25;
  const double fmean = 1.0 / (0.15 + 0.85 / recall);
  EXPECT_NEAR(item.at("METEOR"), fmean * (1 - 0.6 * std::pow(0.25, 0.2)), 1e-12);

  // No predictions at all: everything 0, every item missing.
  auto empty = ScorePredictions(*qa, {}, options);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->n_missing, static_cast<int>(qa->items.size()));
  EXPECT_EQ(empty->metrics.at("Bleu_1"), 0.0);
  EXPECT_EQ(empty->metrics.at("METEOR"), 0.0);
}

TEST(EvalDatasetsTest, CaptionGroupsSample) {
  auto dataset = ReadJsonlDataset(DataFile("caption_groups_5ref.jsonl"), EvalTask::kDescribe);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->items.size(), 8u);
  EXPECT_EQ(dataset->items[0].id, "llava_prompts/complex_reasoning/000_caps.txt");
  EXPECT_EQ(dataset->items[0].references.size(), 5u);
  // Leave-one-out: score caption 0 against captions 1..4.
  EvalDataset held_out = *dataset;
  std::vector<Prediction> predictions;
  for (EvalItem& item : held_out.items) {
    predictions.push_back({item.id, false, item.references[0]});
    item.references.erase(item.references.begin());
  }
  ScoringOptions options;
  options.meteor = Meteor();
  auto report = ScorePredictions(held_out, predictions, options);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const char* metric : {"Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr", "METEOR"}) {
    EXPECT_GT(report->metrics.at(metric), 0.0) << metric;
    EXPECT_LT(report->metrics.at(metric), 10.0) << metric;
  }
  const std::string table = FormatReportTable(*report);
  EXPECT_NE(table.find("CIDEr"), std::string::npos);
  const nlohmann::json json = ReportToJson(*report, /*include_items=*/true);
  EXPECT_EQ(json["task"], "describe");
  EXPECT_EQ(json["items"].size(), 8u);
}

TEST(EvalDatasetsTest, GenericJsonlChoiceAndErrors) {
  auto choice = ParseJsonlDataset(
      R"({"id": "q1", "image": "a.jpg", "question": "Which?", "choices": ["a cat", "a dog"], "answer": 1}
{"id": "q2", "image": "b.jpg", "question": "Which?", "choices": ["red", "blue"], "answer": "red"})",
      EvalTask::kChoice);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->items[0].answer_index, 1);
  EXPECT_EQ(choice->items[1].answer_index, 0);
  EXPECT_EQ(ScoreChoice("A dog.", choice->items[0].choices, 1), 1.0);
  EXPECT_EQ(ScoreChoice("(B)", choice->items[0].choices, 1), 1.0);
  EXPECT_EQ(ScoreChoice("2", choice->items[0].choices, 1), 1.0);
  EXPECT_EQ(ScoreChoice("a cat", choice->items[0].choices, 1), 0.0);
  auto report = ScorePredictions(*choice, {{"q1", false, "b"}, {"q2", false, "blue"}});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->metrics.at("accuracy"), 50.0);

  EXPECT_FALSE(ParseJsonlDataset("{not json}", EvalTask::kVqa).ok());
  EXPECT_FALSE(ParseJsonlDataset(R"({"id": 1, "question": "q"})", EvalTask::kVqa).ok());
  EXPECT_FALSE(
      ParseJsonlDataset(R"({"id": 1, "choices": ["x"], "answer": 5})", EvalTask::kChoice).ok());
  // An index past int's range is out of range, not wrapped onto a choice (2^32 -> 0).
  EXPECT_FALSE(
      ParseJsonlDataset(R"({"id": 1, "choices": ["x"], "answer": 4294967296})", EvalTask::kChoice)
          .ok());
  EXPECT_FALSE(
      ParseJsonlDataset(R"({"id": 1, "choices": ["x"], "answer": -4294967296})", EvalTask::kChoice)
          .ok());
  EXPECT_FALSE(ReadJsonlDataset("/nonexistent.jsonl", EvalTask::kVqa).ok());
  EXPECT_FALSE(ParseEvalTask("caption").ok());
  EXPECT_EQ(*ParseEvalTask("describe"), EvalTask::kDescribe);
}

TEST(EvalPredictionsTest, OfficialFormatsRoundTrip) {
  const std::vector<Prediction> answers = {{"262148000", true, "down"}, {"q-7", false, "two"}};
  const std::string vqa = FormatPredictions(EvalTask::kVqa, answers);
  EXPECT_EQ(vqa,
            R"([{"answer":"down","question_id":262148000},{"answer":"two","question_id":"q-7"}])");
  auto parsed = ParsePredictions(vqa);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].id, "262148000");
  EXPECT_TRUE((*parsed)[0].id_is_number);
  EXPECT_EQ((*parsed)[1].text, "two");

  const std::string captions = FormatPredictions(EvalTask::kDescribe, {{"2", true, "a man"}});
  EXPECT_EQ(captions, R"([{"caption":"a man","image_id":2}])");
  auto jsonl = ParsePredictions(
      "{\"image_id\": \"x\", \"caption\": \"c\"}\n\n{\"id\": 3, "
      "\"prediction\": \"p\"}\n");
  ASSERT_TRUE(jsonl.ok()) << jsonl.status();
  EXPECT_EQ((*jsonl)[1].id, "3");
  EXPECT_FALSE(ParsePredictions(R"([{"question_id": 1, "answer": "a"},
                                    {"question_id": 1, "answer": "b"}])")
                   .ok());
  EXPECT_FALSE(ParsePredictions(R"([{"question_id": 1}])").ok());
}

}  // namespace
}  // namespace lmeye::eval
