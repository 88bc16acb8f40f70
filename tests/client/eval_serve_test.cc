// lmeye_client eval against the real `lmeye serve` (a child process; a tiny init-model model:
// GPT-2's tokenizer, random weights, so the answers are noise) on real images: every task sends
// every item, decodes the answers into predictions, and reports model/eval's scores of exactly
// those predictions. Greedy answers do not depend on how many requests are in flight.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/client_options.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "model/eval/datasets.h"
#include "model/eval/meteor_resources.h"
#include "model/eval/predictions.h"
#include "model/eval/scoring.h"
#include "nlohmann/json.hpp"
#include "tests/server/serve_process.h"

namespace lmeye::client {
namespace {

using ::lmeye::testing::InitTinyModel;
using ::lmeye::testing::ReadWholeFile;
using ::lmeye::testing::ScratchDir;
using ::lmeye::testing::ServeProcess;
using ::lmeye::testing::TestData;
using json = nlohmann::json;

// One server for the suite: starting it (model load) is most of the time.
class EvalServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(LMEYE_BINARY)) return;  // reported by SetUp
    scratch_ = new ScratchDir("eval-serve-test");
    // Shared with tests/server's serve_test: written once, renamed into place.
    const std::string dir = LMEYE_SERVE_TEST_MODEL_DIR;
    if (!std::filesystem::exists(dir + "/adapter.json")) {
      const std::string mine = scratch_->path() + "/model";
      if (!InitTinyModel(mine)) return;
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
      std::filesystem::rename(mine, dir, ec);  // fails harmlessly if another process won
    }
    server_ = new ServeProcess(dir, {}, scratch_->path());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete scratch_;
    server_ = nullptr;
    scratch_ = nullptr;
  }

  void SetUp() override {
    if (!std::filesystem::exists(LMEYE_BINARY)) GTEST_SKIP() << LMEYE_BINARY << " not built";
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->started()) << server_->log();
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = scratch_->path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // eval with --images tests/data/images; the report as JSON, the exit code in `code`.
  json Eval(std::vector<std::string> args, int* code) {
    const std::string predictions = scratch_->path() + "/predictions.json";
    const std::string report = scratch_->path() + "/report.json";
    std::remove(predictions.c_str());
    std::remove(report.c_str());
    args.insert(args.begin(), "eval");
    args.insert(args.end(),
                {"--server", server_->address(), "--images", TestData("images"), "--predictions",
                 predictions, "--report", report, "--meteor", TestData("../../model/eval/meteor"),
                 "--no-progress", "--timeout", "120", "--temperature", "0"});
    auto options = ParseClientArgs(args);
    EXPECT_TRUE(options.ok()) << options.status();
    std::ostringstream out;
    *code = options.ok() ? RunEval(*options, out) : -1;
    return std::ifstream(report).good() ? json::parse(ReadWholeFile(report)) : json();
  }

  std::string PredictionsPath() const { return scratch_->path() + "/predictions.json"; }

  // Every item has a prediction and the report's metrics are model/eval's for them.
  void ExpectEveryItemAnsweredAndScored(const eval::EvalDataset& dataset, const json& report) {
    auto predictions = eval::ReadPredictions(PredictionsPath());
    ASSERT_TRUE(predictions.ok()) << predictions.status();
    ASSERT_EQ(predictions->size(), dataset.items.size());
    for (size_t i = 0; i < dataset.items.size(); ++i) {
      EXPECT_EQ((*predictions)[i].id, dataset.items[i].id);
    }
    auto meteor = eval::MeteorResources::Load(TestData("../../model/eval/meteor"));
    ASSERT_TRUE(meteor.ok()) << meteor.status();
    eval::ScoringOptions scoring;
    scoring.meteor = meteor->get();
    auto expected = eval::ScorePredictions(dataset, *predictions, scoring);
    ASSERT_TRUE(expected.ok()) << expected.status();
    EXPECT_EQ(report["n_missing"], 0);
    EXPECT_EQ(report["run"]["n_failed"], 0);
    ASSERT_EQ(report["metrics"].size(), expected->metrics.size());
    for (const auto& [name, value] : expected->metrics) {
      EXPECT_EQ(report["metrics"][name].get<double>(), value) << name;
    }
  }

  static inline ScratchDir* scratch_ = nullptr;
  static inline ServeProcess* server_ = nullptr;
};

const char* const kImages[] = {"astronaut.jpg", "coffee.jpg", "chelsea.png", "rocket.jpg"};

TEST_F(EvalServeTest, VqaGreedyAnswersDoNotDependOnConcurrency) {
  std::string text;
  for (int i = 0; i < 8; ++i) {
    std::vector<std::string> answers(9, i % 2 == 0 ? "yes" : "two");
    answers.push_back("no");
    text += json({{"question_id", 1000 + i},
                  {"image", kImages[i % 4]},
                  {"question", i % 2 == 0 ? "Is this a photo?" : "How many things are there?"},
                  {"answers", answers}})
                .dump() +
            "\n";
  }
  const std::string data = Write("vqa.jsonl", text);
  int code = -1;
  const json alone =
      Eval({"--task", "vqa", "--data", data, "--concurrency", "1", "--max-new-tokens", "4"}, &code);
  ASSERT_EQ(code, kExitOk) << server_->log();
  const std::string predictions_alone = ReadWholeFile(PredictionsPath());
  const json together =
      Eval({"--task", "vqa", "--data", data, "--concurrency", "8", "--max-new-tokens", "4"}, &code);
  ASSERT_EQ(code, kExitOk);
  EXPECT_EQ(ReadWholeFile(PredictionsPath()), predictions_alone);
  auto dataset = eval::ReadJsonlDataset(data, eval::EvalTask::kVqa);
  ASSERT_TRUE(dataset.ok());
  ExpectEveryItemAnsweredAndScored(*dataset, together);
  EXPECT_GT(together["run"]["generated_tokens"].get<int>(), 0);
}

TEST_F(EvalServeTest, LongAnswersDescriptionsAndChoices) {
  std::string text;
  for (int i = 0; i < 2; ++i) {
    text += json({{"image_id", std::to_string(i)},
                  {"image_file", kImages[i]},
                  {"caption", "A detailed description of a photograph."},
                  {"qa",
                   {{{"question", "What is shown?"}, {"answer", "A photograph of something."}},
                    {{"question", "Describe the colors."}, {"answer", "Mostly grey and blue."}}}}})
                .dump() +
            "\n";
  }
  const std::string lmeye = Write("lmeye.jsonl", text);
  int code = -1;
  json report = Eval({"--task", "long", "--data", lmeye, "--max-new-tokens", "8"}, &code);
  ASSERT_EQ(code, kExitOk) << server_->log();
  auto long_set = eval::ReadDataset(lmeye, eval::EvalTask::kLong);
  ASSERT_TRUE(long_set.ok());
  ExpectEveryItemAnsweredAndScored(*long_set, report);
  EXPECT_TRUE(report["metrics"].contains("METEOR"));

  report = Eval(
      {"--task", "describe", "--data", lmeye, "--max-new-tokens", "8", "--num-beams", "2"}, &code);
  ASSERT_EQ(code, kExitOk);
  auto describe_set = eval::ReadDataset(lmeye, eval::EvalTask::kDescribe);
  ASSERT_TRUE(describe_set.ok());
  ExpectEveryItemAnsweredAndScored(*describe_set, report);

  std::string choices;
  for (int i = 0; i < 3; ++i) {
    choices += json({{"id", i},
                     {"image", kImages[i]},
                     {"question", "What is in the picture?"},
                     {"choices", {"a person", "a cup", "a cat", "a rocket"}},
                     {"answer", i}})
                   .dump() +
               "\n";
  }
  const std::string choice_data = Write("choice.jsonl", choices);
  report = Eval({"--task", "choice", "--data", choice_data}, &code);
  ASSERT_EQ(code, kExitOk);
  auto choice_set = eval::ReadJsonlDataset(choice_data, eval::EvalTask::kChoice);
  ASSERT_TRUE(choice_set.ok());
  ExpectEveryItemAnsweredAndScored(*choice_set, report);
  // The prediction is one of the choices (scored, not generated).
  const json predictions = json::parse(ReadWholeFile(PredictionsPath()));
  const std::set<std::string> allowed = {"a person", "a cup", "a cat", "a rocket"};
  for (const json& p : predictions) EXPECT_EQ(allowed.count(p["answer"]), 1u) << p.dump();
}

TEST_F(EvalServeTest, AnUndecodableImageIsCountedByItem) {
  const std::string bad = Write("not_an_image.jpg", "plain text, not a JPEG");
  const std::string data = Write(
      "bad.jsonl",
      json({{"question_id", 1}, {"image", kImages[0]}, {"question", "What?"}, {"answers", {"a"}}})
              .dump() +
          "\n" +
          json({{"question_id", 2}, {"image", bad}, {"question", "What?"}, {"answers", {"a"}}})
              .dump() +
          "\n");
  int code = -1;
  const json report = Eval({"--task", "vqa", "--data", data, "--max-new-tokens", "2"}, &code);
  EXPECT_EQ(code, kExitInvalidArgument);
  EXPECT_EQ(report["run"]["n_predictions"], 1);
  ASSERT_EQ(report["run"]["failures"].size(), 1u);
  EXPECT_EQ(report["run"]["failures"][0]["id"], "2");
  EXPECT_EQ(report["run"]["failures"][0]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(report["n_missing"], 1);
}

}  // namespace
}  // namespace lmeye::client
