// lmeye_client eval end to end against the real LmeyeService on loopback, the gRPC edge tests'
// fake backend playing the workers (it answers "Hello, world!" to everything): every item is
// sent once with its image, predictions and the report are written, their scores are
// model/eval's scores of the written predictions, and failures are counted by item.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
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
#include "tests/server/server_test_util.h"

namespace lmeye::client {
namespace {

using ::lmeye::testing::FakeBackend;
using ::lmeye::testing::TestData;
using ::lmeye::testing::TestServer;
using ::lmeye::testing::TestServerConfig;
using ::testing::HasSubstr;
using json = nlohmann::json;

class EvalCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ + "/images");
    // Not decoded by the fake backend; distinct bytes show which image each request carried.
    for (const char* name : {"a.png", "b.png", "c.png"}) {
      std::ofstream(dir_ + "/images/" + name) << "image " << name;
    }
  }
  std::string Write(const std::string& name, const std::string& text) {
    return scratch_.Write(name, text);
  }

  static json ReadJson(const std::string& path) { return ReadJsonFile(path).value(); }

  // `eval --server <server> --predictions <dir>/p.json --report <dir>/r.json --no-progress` plus
  // `args`; stdout into `printed`.
  int Eval(const TestServer& server, std::vector<std::string> args,
           std::string* printed = nullptr) {
    args.insert(args.begin(), "eval");
    std::remove(predictions_path().c_str());
    std::remove(report_path().c_str());
    args.insert(args.end(), {"--server", server.address(), "--predictions", predictions_path(),
                             "--report", report_path()});
    if (std::find(args.begin(), args.end(), "--progress") == args.end()) {
      args.push_back("--no-progress");
    }
    auto options = ParseClientArgs(args);
    EXPECT_TRUE(options.ok()) << options.status();
    if (!options.ok()) return -1;
    std::ostringstream out;
    const int code = RunEval(*options, out);
    if (printed != nullptr) *printed = out.str();
    return code;
  }

  std::string predictions_path() const { return dir_ + "/p.json"; }
  std::string report_path() const { return dir_ + "/r.json"; }

  // The report's metrics equal model/eval's scoring of the written predictions.
  void ExpectReportScoresPredictions(const eval::EvalDataset& dataset,
                                     const eval::MeteorResources* meteor = nullptr) {
    auto predictions = eval::ReadPredictions(predictions_path());
    ASSERT_TRUE(predictions.ok()) << predictions.status();
    eval::ScoringOptions scoring;
    scoring.meteor = meteor;
    auto expected = eval::ScorePredictions(dataset, *predictions, scoring);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const json report = ReadJson(report_path());
    ASSERT_EQ(report["metrics"].size(), expected->metrics.size());
    for (const auto& [name, value] : expected->metrics) {
      EXPECT_EQ(report["metrics"][name].get<double>(), value) << name;
    }
    EXPECT_EQ(report["n_items"], dataset.items.size());
    EXPECT_EQ(report["n_missing"], expected->n_missing);
  }

  ::lmeye::testing::ScratchDir scratch_{"lmeye_eval"};
  std::string dir_ = scratch_.path();
};

// Nine human answers `answer` and one other: vqaEval normalises answers (punctuation, case) only
// when the ten differ.
std::string VqaRecord(int id, const std::string& image, const std::string& answer) {
  std::vector<std::string> answers(9, answer);
  answers.push_back("something else");
  return json({{"question_id", id},
               {"image", image},
               {"question", "Question " + std::to_string(id) + "?"},
               {"answer_type", "other"},
               {"answers", answers}})
             .dump() +
         "\n";
}

TEST_F(EvalCommandTest, VqaEveryQuestionAnsweredAndScored) {
  TestServer server;
  std::string text;
  const std::string images[] = {"images/a.png", "images/b.png", "images/c.png"};
  for (int i = 0; i < 9; ++i) {
    // A third of the questions have the fake's answer as their human answer.
    text += VqaRecord(100 + i, images[i % 3], i % 3 == 0 ? "hello world" : "no");
  }
  const std::string data = Write("vqa.jsonl", text);
  std::string printed;
  ASSERT_EQ(
      Eval(server, {"--task", "vqa", "--data", data, "--concurrency", "4", "--max-new-tokens", "5"},
           &printed),
      kExitOk);

  // One request per question, each with its question's image and the flags' parameters.
  ASSERT_EQ(server.backend().n_calls(), 9u);
  std::multiset<std::string> sent_images;
  for (const auto& call : server.backend().calls()) {
    EXPECT_EQ(call->request.rpc, "AnswerVQA");
    EXPECT_EQ(call->request.sampling.max_new_tokens, 5);
    sent_images.insert(call->request.image);
  }
  EXPECT_EQ(sent_images.count("image a.png"), 3u);
  EXPECT_EQ(sent_images.count("image c.png"), 3u);

  // VQAv2 result format, in dataset order, numeric ids.
  const json predictions = ReadJson(predictions_path());
  ASSERT_EQ(predictions.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(predictions[i], json({{"question_id", 100 + i}, {"answer", "Hello, world!"}}));
  }
  auto dataset = eval::ReadJsonlDataset(data, eval::EvalTask::kVqa);
  ASSERT_TRUE(dataset.ok());
  ExpectReportScoresPredictions(*dataset);
  const json report = ReadJson(report_path());
  EXPECT_NEAR(report["metrics"]["accuracy"].get<double>(), 33.33, 1e-9);
  EXPECT_EQ(report["run"]["n_predictions"], 9);
  EXPECT_EQ(report["run"]["n_failed"], 0);
  EXPECT_EQ(report["run"]["concurrency"], 4);
  EXPECT_EQ(report["run"]["generated_tokens"], 9 * 4);  // the fake's usage: 4 tokens each
  EXPECT_EQ(report["items"].size(), 9u);
  EXPECT_THAT(printed, HasSubstr("accuracy"));
  EXPECT_THAT(printed, HasSubstr("33.33"));
  EXPECT_THAT(printed, HasSubstr("answered 9, failed 0"));
  EXPECT_THAT(printed, HasSubstr("report: " + report_path()));
}

TEST_F(EvalCommandTest, MissingImageIsCountedNotFatal) {
  TestServer server;
  const std::string data = Write(
      "vqa.jsonl", VqaRecord(1, "images/a.png", "yes") + VqaRecord(2, "images/missing.png", "yes") +
                       VqaRecord(3, "images/b.png", "yes") + VqaRecord(4, "", "yes"));
  ASSERT_EQ(Eval(server, {"--task", "vqa", "--data", data}), kExitLocalInput);
  EXPECT_EQ(server.backend().n_calls(), 2u);
  const json predictions = ReadJson(predictions_path());
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_EQ(predictions[0]["question_id"], 1);
  EXPECT_EQ(predictions[1]["question_id"], 3);
  const json report = ReadJson(report_path());
  EXPECT_EQ(report["n_missing"], 2);
  EXPECT_EQ(report["run"]["n_image_errors"], 2);
  ASSERT_EQ(report["run"]["failures"].size(), 2u);
  EXPECT_EQ(report["run"]["failures"][0]["id"], "2");
  EXPECT_EQ(report["run"]["failures"][0]["code"], "IMAGE");
  EXPECT_THAT(report["run"]["failures"][0]["message"].get<std::string>(), HasSubstr("missing.png"));
  EXPECT_EQ(report["run"]["failures"][1]["id"], "4");
  auto dataset = eval::ReadJsonlDataset(data, eval::EvalTask::kVqa);
  ASSERT_TRUE(dataset.ok());
  ExpectReportScoresPredictions(*dataset);

  // --images: paths are relative to another directory; --image-pattern names files by id.
  const std::string by_id = Write(
      "by_id.jsonl",
      "{\"question_id\": 5, \"image_id\": \"a\", \"question\": \"Q?\", \"answers\": [\"yes\"]}\n");
  const std::string elsewhere = Write("elsewhere.jsonl", VqaRecord(6, "b.png", "yes"));
  EXPECT_EQ(Eval(server, {"--task", "vqa", "--data", by_id, "--images", dir_ + "/images",
                          "--image-pattern", "{image_id}.png"}),
            kExitOk);
  EXPECT_EQ(Eval(server, {"--task", "vqa", "--data", elsewhere, "--images", dir_ + "/images"}),
            kExitOk);
}

// The LMEye long-answer layout: long answers per QA pair, descriptions per image; the caption
// metrics (METEOR included) of the written predictions.
TEST_F(EvalCommandTest, LongAnswersAndDescriptionsOnTheLmeyeFormat) {
  TestServer server;
  std::string text;
  for (const char* id : {"11", "12"}) {
    text += json({{"image_id", id},
                  {"image_file", std::string("images/") + (id[1] == '1' ? "a" : "b") + ".png"},
                  {"caption", "The image shows a wooden boat on a calm lake."},
                  {"qa",
                   {{{"question", "What is on the lake?"}, {"answer", "A wooden boat."}},
                    {{"question", "Say hello."}, {"answer", "Hello, world!"}}}}})
                .dump() +
            "\n";
  }
  const std::string data = Write("lmeye.jsonl", text);
  const std::string meteor_dir = TestData("../../model/eval/meteor");
  auto meteor = eval::MeteorResources::Load(meteor_dir);
  ASSERT_TRUE(meteor.ok()) << meteor.status();

  ASSERT_EQ(Eval(server, {"--task", "long", "--data", data, "--meteor", meteor_dir}), kExitOk);
  const json long_predictions = ReadJson(predictions_path());
  ASSERT_EQ(long_predictions.size(), 4u);
  EXPECT_EQ(long_predictions[0]["question_id"], "11_0");
  EXPECT_EQ(long_predictions[3]["question_id"], "12_1");
  auto long_set = eval::ReadDataset(data, eval::EvalTask::kLong);
  ASSERT_TRUE(long_set.ok());
  ExpectReportScoresPredictions(*long_set, meteor->get());
  const json long_report = ReadJson(report_path());
  EXPECT_TRUE(long_report["metrics"].contains("METEOR"));
  EXPECT_GT(long_report["metrics"]["Bleu_1"].get<double>(), 0);  // half the answers are exact

  ASSERT_EQ(Eval(server, {"--task", "describe", "--data", data, "--meteor", meteor_dir}), kExitOk);
  const json captions = ReadJson(predictions_path());
  ASSERT_EQ(captions.size(), 2u);
  EXPECT_EQ(captions[0], json({{"image_id", "11"}, {"caption", "Hello, world!"}}));
  auto describe_set = eval::ReadDataset(data, eval::EvalTask::kDescribe);
  ASSERT_TRUE(describe_set.ok());
  ExpectReportScoresPredictions(*describe_set, meteor->get());
  const auto calls = server.backend().calls();
  ASSERT_EQ(calls.size(), 4u + 2u);
  EXPECT_EQ(calls[4]->request.rpc, "Describe");
}

TEST_F(EvalCommandTest, ChoicesAreSentAndTheChosenOneScored) {
  TestServer server;
  FakeBackend::Script script;
  script.result.choices.choices.resize(3);
  script.result.choices.best = 1;  // always the second choice
  server.backend().set_script(script);
  std::string text;
  for (int i = 0; i < 3; ++i) {
    text += json({{"id", "q" + std::to_string(i)},
                  {"image", "images/a.png"},
                  {"question", "Which?"},
                  {"choices", {"a cat", "a dog", "a car"}},
                  {"answer", i == 2 ? 0 : 1}})
                .dump() +
            "\n";
  }
  const std::string data = Write("choice.jsonl", text);
  std::string printed;
  ASSERT_EQ(Eval(server, {"--task", "choice", "--data", data, "--json"}, &printed), kExitOk);
  for (const auto& call : server.backend().calls()) {
    EXPECT_EQ(call->request.choices.size(), 3u);
  }
  const json predictions = ReadJson(predictions_path());
  ASSERT_EQ(predictions.size(), 3u);
  EXPECT_EQ(predictions[0], json({{"question_id", "q0"}, {"answer", "a dog"}}));
  auto dataset = eval::ReadJsonlDataset(data, eval::EvalTask::kChoice);
  ASSERT_TRUE(dataset.ok());
  ExpectReportScoresPredictions(*dataset);
  // --json prints the report without its per-item values.
  const json printed_report = json::parse(printed);
  EXPECT_NEAR(printed_report["metrics"]["accuracy"].get<double>(), 200.0 / 3, 0.01);
  EXPECT_FALSE(printed_report.contains("items"));
  EXPECT_EQ(printed_report["run"]["n_predictions"], 3);
}

TEST_F(EvalCommandTest, RefusedRequestsAreCountedAndGiveTheExitCode) {
  TestServer server;
  FakeBackend::Script script;
  script.done_status = absl::InvalidArgumentError("cannot decode image");
  server.backend().set_script(script);
  const std::string data =
      Write("vqa.jsonl", VqaRecord(1, "images/a.png", "yes") + VqaRecord(2, "images/b.png", "no"));
  ASSERT_EQ(Eval(server, {"--task", "vqa", "--data", data, "--limit", "1"}), kExitInvalidArgument);
  const json report = ReadJson(report_path());
  EXPECT_EQ(report["n_items"], 1);  // --limit
  EXPECT_EQ(report["run"]["n_request_errors"], 1);
  EXPECT_EQ(report["run"]["failures"][0]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(ReadJson(predictions_path()).size(), 0u);
}

TEST_F(EvalCommandTest, StopsWhenEveryRequestWouldFail) {
  TestServerConfig config;
  config.tokens = "secret\n";
  TestServer server(config);
  std::string text;
  for (int i = 0; i < 5; ++i) text += VqaRecord(i, "images/a.png", "yes");
  const std::string data = Write("vqa.jsonl", text);
  ASSERT_EQ(Eval(server, {"--task", "vqa", "--data", data, "--concurrency", "1"}),
            kExitUnauthenticated);
  const json report = ReadJson(report_path());
  EXPECT_EQ(report["run"]["n_not_sent"], 4);  // the first refusal stopped the run
  EXPECT_THAT(report["run"]["stopped_by"].get<std::string>(), HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(Eval(server, {"--task", "vqa", "--data", data, "--token", "secret"}), kExitOk);

  auto unreachable = ParseClientArgs({"eval", "--task", "vqa", "--data", data, "--server",
                                      "127.0.0.1:1", "--timeout", "1", "--no-progress"});
  ASSERT_TRUE(unreachable.ok());
  std::ostringstream out;
  EXPECT_EQ(RunEval(*unreachable, out), kExitUnavailable);
}

// Ctrl-C during a run: what was answered is kept, nothing more is sent, the files are written.
TEST_F(EvalCommandTest, InterruptKeepsWhatWasAnswered) {
  TestServer server;
  FakeBackend::Script script;
  script.hold = true;  // the first request waits until the signal was handled
  server.backend().set_script(script);
  std::string text;
  for (int i = 0; i < 5; ++i) text += VqaRecord(i, "images/a.png", "yes");
  const std::string data = Write("vqa.jsonl", text);
  int code = -1;
  std::thread run([&] {
    code = Eval(server, {"--task", "vqa", "--data", data, "--concurrency", "1"});
  });
  ASSERT_NE(server.backend().WaitForCall(0), nullptr);
  // Delivered before kill returns (this thread does not block SIGINT); RunEval's handler is in
  // place from before the first request.
  ASSERT_EQ(kill(getpid(), SIGINT), 0);
  server.backend().ReleaseAll();
  run.join();
  EXPECT_EQ(code, kExitOther);
  EXPECT_EQ(server.backend().n_calls(), 1u);
  EXPECT_EQ(ReadJson(predictions_path()).size(), 1u);
  const json report = ReadJson(report_path());
  EXPECT_EQ(report["run"]["n_not_sent"], 4);
  EXPECT_EQ(report["run"]["stopped_by"], "interrupted (SIGINT)");
  EXPECT_EQ(report["n_missing"], 4);
}

TEST_F(EvalCommandTest, ProgressLinesWhenNotOnATerminal) {
  TestServer server;
  std::string text;
  for (int i = 0; i < 4; ++i) text += VqaRecord(i, "images/a.png", "yes");
  const std::string data = Write("vqa.jsonl", text);
  std::ostringstream err;
  std::streambuf* saved = std::cerr.rdbuf(err.rdbuf());
  const int code = Eval(server, {"--task", "vqa", "--data", data, "--progress"});
  std::cerr.rdbuf(saved);
  EXPECT_EQ(code, kExitOk);
  EXPECT_THAT(err.str(), HasSubstr("eval: 1/4 items (25%)"));
  EXPECT_THAT(err.str(), HasSubstr("eval: 4/4 items (100%)"));
}

}  // namespace
}  // namespace lmeye::client
