// lmeye_client eval --score-only: saved predictions scored without a server. The metric fixtures
// (outputs of vqaEval.py, pycocoevalcap and Meteor 1.5) written as a dataset and a predictions
// file must give the fixture's numbers through the command, report file included; real annotation
// samples must give what model/eval computes for them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "client/client_options.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "model/common/file_util.h"
#include "model/eval/datasets.h"
#include "model/eval/meteor_resources.h"
#include "model/eval/predictions.h"
#include "model/eval/scoring.h"
#include "nlohmann/json.hpp"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"
#include "tests/eval/fixture_cases.h"

namespace lmeye::client {
namespace {

using ::lmeye::eval::testing::MetricCases;
using ::lmeye::testing::TestData;
using ::testing::HasSubstr;
using json = nlohmann::json;

class EvalScoreOnlyTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    return scratch_.Write(name, text);
  }

  static json ReadJson(const std::string& path) { return ReadJsonFile(path).value(); }

  // Runs `eval <args> --report <dir>/report.json`; returns the exit code, the report in `report`.
  int Eval(std::vector<std::string> args, json* report, std::string* printed = nullptr) {
    args.insert(args.begin(), "eval");
    const std::string report_path = dir_ + "/report.json";
    std::remove(report_path.c_str());
    args.insert(args.end(), {"--report", report_path});
    auto options = ParseClientArgs(args);
    EXPECT_TRUE(options.ok()) << options.status();
    if (!options.ok()) return -1;
    std::ostringstream out;
    const int code = RunEval(*options, out);
    if (printed != nullptr) *printed = out.str();
    if (report != nullptr && std::ifstream(report_path).good()) *report = ReadJson(report_path);
    return code;
  }

  static std::string Jsonl(const std::vector<json>& records) {
    std::string text;
    for (const json& r : records) text += r.dump() + "\n";
    return text;
  }

  ::lmeye::testing::ScratchDir scratch_{"lmeye_eval_score"};
  std::string dir_ = scratch_.path();
};

TEST_F(EvalScoreOnlyTest, VqaFixtureGivesVqaEvalsNumbers) {
  const json& vqa = MetricCases()["vqa_short_answer"];
  std::vector<json> records;
  json predictions = json::array();
  for (const json& item : vqa["items"]) {
    records.push_back({{"question_id", item["question_id"]},
                       {"question", item["question"]},
                       {"answer_type", item["answer_type"]},
                       {"question_type", item["question_type"]},
                       {"answers", item["answers"]}});
    predictions.push_back({{"question_id", item["question_id"]}, {"answer", item["candidate"]}});
  }
  const std::string data = Write("vqa.jsonl", Jsonl(records));
  const std::string saved = Write("vqa_predictions.json", predictions.dump());
  json report;
  std::string printed;
  ASSERT_EQ(Eval({"--task", "vqa", "--data", data, "--score-only", saved}, &report, &printed),
            kExitOk);
  EXPECT_EQ(report["task"], "vqa");
  EXPECT_EQ(report["n_items"], vqa["items"].size());
  EXPECT_EQ(report["n_missing"], 0);
  EXPECT_EQ(report["metrics"]["accuracy"].get<double>(), vqa["overall_official"].get<double>());
  EXPECT_NEAR(report["metrics"]["accuracy_exact"].get<double>(), vqa["overall_exact"].get<double>(),
              1e-12);
  for (const char* breakdown : {"perAnswerType", "perQuestionType"}) {
    const json& expected = vqa[std::string(breakdown) + "_official"];
    ASSERT_EQ(report["breakdowns"][breakdown].size(), expected.size()) << breakdown;
    for (const auto& [type, value] : expected.items()) {
      EXPECT_EQ(report["breakdowns"][breakdown][type].get<double>(), value.get<double>())
          << breakdown << " " << type;
    }
  }
  ASSERT_EQ(report["items"].size(), vqa["items"].size());
  for (size_t i = 0; i < vqa["items"].size(); ++i) {
    EXPECT_NEAR(report["items"][i]["metrics"]["accuracy"].get<double>(),
                vqa["items"][i]["accuracy"].get<double>(), 1e-12)
        << "question " << vqa["items"][i]["question_id"];
  }
  EXPECT_EQ(report["run"]["score_only"], saved);
  EXPECT_THAT(printed, HasSubstr("accuracy                  70.91"));
}

// captions_5ref as a describe set (image_id / caption), long_vqa_1ref as a long-answer set
// (question_id / answer): the corpus and per-item values of pycocoevalcap and Meteor 1.5.
TEST_F(EvalScoreOnlyTest, CaptionFixturesGiveTheToolkitsNumbers) {
  for (const json& set : MetricCases()["caption_sets"]) {
    if (!set["ptb_tokenized"].get<bool>()) continue;  // fed pre-tokenised: not what eval does
    const bool describe = set["name"] == "captions_5ref";
    const std::string key = describe ? "image_id" : "question_id";
    std::vector<json> records;
    json predictions = json::array();
    for (const json& item : set["items"]) {
      json record = {{key, item["id"]}, {"references", item["references"]}};
      if (!describe) record["question"] = "What is in the image?";
      records.push_back(record);
      predictions.push_back(
          {{key, item["id"]}, {describe ? "caption" : "answer", item["candidate"]}});
    }
    const std::string name = set["name"].get<std::string>();
    const std::string data = Write(name + ".jsonl", Jsonl(records));
    const std::string saved = Write(name + "_predictions.json", predictions.dump());
    json report;
    ASSERT_EQ(Eval({"--task", describe ? "describe" : "long", "--data", data, "--score-only", saved,
                    "--meteor", TestData("../../model/eval/meteor")},
                   &report),
              kExitOk)
        << name;
    const json& corpus = set["corpus_scores"];
    for (const char* metric : {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"}) {
      EXPECT_NEAR(report["metrics"][metric].get<double>(), corpus[metric].get<double>(), 1e-9)
          << name << " " << metric;
    }
    EXPECT_NEAR(report["metrics"]["METEOR"].get<double>(),
                corpus["METEOR_noparaphrase"].get<double>(), 1e-6)
        << name;
    ASSERT_EQ(report["items"].size(), set["items"].size());
    for (size_t i = 0; i < set["items"].size(); ++i) {
      const json& expected = set["items"][i]["scores"];
      const json& got = report["items"][i]["metrics"];
      for (const char* metric : {"Bleu_1", "Bleu_2", "ROUGE_L", "CIDEr"}) {
        EXPECT_NEAR(got[metric].get<double>(), expected[metric].get<double>(), 1e-9)
            << name << " item " << i << " " << metric;
      }
      EXPECT_NEAR(got["METEOR"].get<double>(), expected["METEOR_noparaphrase"].get<double>(), 1e-6)
          << name << " item " << i;
    }
  }
}

// The official two-file layout, rebuilt from the first 100 VQAv2 val annotations.
TEST_F(EvalScoreOnlyTest, VqaV2FilesAndJsonlPredictions) {
  std::ifstream in(TestData("data/vqav2_val_first100.jsonl"));
  json questions = {{"questions", json::array()}};
  json annotations = {{"annotations", json::array()}};
  std::string saved_jsonl;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json a = json::parse(line);
    questions["questions"].push_back(
        {{"question_id", a["question_id"]},
         {"image_id", a["image_id"]},
         {"question", a["question"].is_string() ? a["question"] : ""}});
    // Every other prediction right (the annotators' consensus), the rest wrong.
    const std::string answer = n++ % 2 == 0 ? a["multiple_choice_answer"].get<std::string>()
                                            : std::string("zebra crossing");
    saved_jsonl += json({{"question_id", a["question_id"]}, {"answer", answer}}).dump() + "\n";
    a.erase("question");
    annotations["annotations"].push_back(a);
  }
  const std::string q = Write("questions.json", questions.dump());
  const std::string a = Write("annotations.json", annotations.dump());
  const std::string saved = Write("predictions.jsonl", saved_jsonl);
  json report;
  ASSERT_EQ(
      Eval({"--task", "vqa", "--data", q, "--annotations", a, "--score-only", saved}, &report),
      kExitOk);
  auto dataset = eval::ReadVqaV2Dataset(q, a);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  auto predictions = eval::ReadPredictions(saved);
  ASSERT_TRUE(predictions.ok()) << predictions.status();
  auto expected = eval::ScorePredictions(*dataset, *predictions);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(report["n_items"], 100);
  EXPECT_EQ(report["metrics"]["accuracy"].get<double>(), expected->metrics.at("accuracy"));
  EXPECT_EQ(report["metrics"]["accuracy_exact"].get<double>(),
            expected->metrics.at("accuracy_exact"));
  // About half right: the consensus answer scores 1 on nearly every question.
  EXPECT_GT(report["metrics"]["accuracy"].get<double>(), 40);
  EXPECT_LT(report["metrics"]["accuracy"].get<double>(), 55);
  EXPECT_EQ(report["run"]["annotations"], a);

  // The questions file alone: a local-input error that says what is missing.
  std::ostringstream err;
  std::streambuf* saved_cerr = std::cerr.rdbuf(err.rdbuf());
  const int code = Eval({"--task", "vqa", "--data", q, "--score-only", saved}, nullptr);
  std::cerr.rdbuf(saved_cerr);
  EXPECT_EQ(code, kExitLocalInput);
  EXPECT_THAT(err.str(), HasSubstr("need --annotations"));
}

// The LMEye long-answer sample (real annotations), first 40 QA items, one answer each being the
// image's long caption: what model/eval computes for the same inputs.
TEST_F(EvalScoreOnlyTest, LmeyeLongAnswerSample) {
  const std::string data = TestData("data/lmeye_ccsbu_detail_qa_sample.jsonl");
  auto dataset = eval::ReadDataset(data, eval::EvalTask::kLong);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  dataset->items.resize(40);
  std::vector<eval::Prediction> predictions;
  for (const eval::EvalItem& item : dataset->items) {
    predictions.push_back({item.id, item.id_is_number, "The image shows " + item.question});
  }
  const std::string saved =
      Write("long.json", eval::FormatPredictions(eval::EvalTask::kLong, predictions));
  json report;
  ASSERT_EQ(Eval({"--task", "long", "--data", data, "--limit", "40", "--score-only", saved,
                  "--no-meteor"},
                 &report),
            kExitOk);
  auto expected = eval::ScorePredictions(*dataset, predictions);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(report["n_items"], 40);
  EXPECT_EQ(report["n_missing"], 0);
  EXPECT_FALSE(report["metrics"].contains("METEOR"));
  for (const char* metric : {"Bleu_1", "Bleu_2", "ROUGE_L", "CIDEr"}) {
    EXPECT_EQ(report["metrics"][metric].get<double>(), expected->metrics.at(metric)) << metric;
    EXPECT_GT(report["metrics"][metric].get<double>(), 0) << metric;
  }
}

TEST_F(EvalScoreOnlyTest, MissingUnmatchedAndUnreadableFiles) {
  const std::string data =
      Write("d.jsonl",
            "{\"question_id\": 1, \"answers\": [\"yes\"], \"image\": \"a.png\"}\n"
            "{\"question_id\": 2, \"answers\": [\"no\"], \"image\": \"b.png\"}\n");
  const std::string saved = Write(
      "p.json", R"([{"question_id": 1, "answer": "yes"}, {"question_id": 9, "answer": "x"}])");
  json report;
  ASSERT_EQ(Eval({"--task", "vqa", "--data", data, "--score-only", saved}, &report), kExitOk);
  EXPECT_EQ(report["n_missing"], 1);
  EXPECT_EQ(report["n_unmatched"], 1);

  EXPECT_EQ(Eval({"--task", "vqa", "--data", data, "--score-only", dir_ + "/none.json"}, nullptr),
            kExitLocalInput);
  EXPECT_EQ(
      Eval({"--task", "vqa", "--data", data, "--score-only", Write("bad.json", "[{")}, nullptr),
      kExitLocalInput);
  EXPECT_EQ(Eval({"--task", "vqa", "--data", dir_ + "/none.jsonl", "--score-only", saved}, nullptr),
            kExitLocalInput);
  EXPECT_EQ(Eval({"--task", "long", "--data", data, "--score-only", saved, "--meteor",
                  dir_ + "/no-meteor-here"},
                 nullptr),
            kExitLocalInput);
}

}  // namespace
}  // namespace lmeye::client
