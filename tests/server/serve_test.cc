// End to end: the real `lmeye serve` process on loopback, with a model written by `lmeye
// init-model` (GPT-2's real tokenizer, random weights), called through the generated stub.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lmeye/v1/lmeye.grpc.pb.h"
#include "tests/server/serve_process.h"
#include "tests/server/server_test_util.h"

namespace lmeye::testing {
namespace {

std::string Image(const std::string& name) { return ReadWholeFile(TestData("images/" + name)); }

// One model directory for every test process, written once under the build tree
// (EnsureTinyModel).
class Model : public ::testing::Environment {
 public:
  static const std::string& dir() { return dir_; }
  static const std::string& scratch() { return scratch_->path(); }
  void SetUp() override {
    scratch_ = new ScratchDir("lmeye_serve_test");
    dir_ = LMEYE_SERVE_TEST_MODEL_DIR;
    std::string error;
    ASSERT_TRUE(EnsureTinyModel(dir_, scratch_->path(), &error)) << error;
  }
  void TearDown() override { delete scratch_; }

 private:
  static inline ScratchDir* scratch_ = nullptr;
  static inline std::string dir_;
};
const auto* const kModel = ::testing::AddGlobalTestEnvironment(new Model);

v1::ChatRequest ChatAbout(const std::string& image, const std::string& text, int max_new_tokens) {
  v1::ChatRequest request;
  request.set_image(image);
  v1::Message* m = request.add_messages();
  m->set_role("human");
  m->set_text(text);
  request.mutable_params()->set_max_new_tokens(max_new_tokens);
  request.mutable_params()->set_ignore_eos(true);
  return request;
}

struct ChatResult {
  grpc::Status status;
  std::vector<std::string> deltas;
  bool final_last = false;
  v1::Final final;
};

ChatResult RunChat(v1::Lmeye::Stub& stub, const v1::ChatRequest& request,
                   double deadline_seconds = 60) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int>(deadline_seconds * 1000)));
  ChatResult out;
  auto reader = stub.Chat(&context, request);
  v1::ChatResponse response;
  while (reader->Read(&response)) {
    out.final_last = response.has_final();
    if (response.has_final()) {
      out.final = response.final();
    } else {
      EXPECT_TRUE(out.final.text().empty()) << "a delta after the final message";
      out.deltas.push_back(response.delta());
    }
  }
  out.status = reader->Finish();
  return out;
}

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ =
        new ServeProcess(Model::dir(), {"--set", "scheduler.max_running=16"}, Model::scratch());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->started()) << server_->log();
    stub_ = v1::Lmeye::NewStub(server_->Channel());
  }

  static inline ServeProcess* server_ = nullptr;
  std::unique_ptr<v1::Lmeye::Stub> stub_;
};

TEST_F(ServeTest, HealthIsServingAndReflectionListsTheService) {
  EXPECT_EQ(HealthCheck(server_->Channel().get(), ""), 1);
  EXPECT_EQ(HealthCheck(server_->Channel().get(), "lmeye.v1.Lmeye"), 1);
  std::string listing;
  ASSERT_TRUE(ReflectionListServices(server_->Channel().get(), &listing).ok());
  EXPECT_TRUE(absl::StrContains(listing, "lmeye.v1.Lmeye"));
}

TEST_F(ServeTest, ChatStreamsDeltasThenOneFinalMessage) {
  ChatResult r = RunChat(*stub_, ChatAbout(Image("chelsea.png"), "What is in the picture?", 8));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_TRUE(r.final_last);
  EXPECT_FALSE(r.deltas.empty());
  std::string joined;
  for (const std::string& d : r.deltas) joined += d;
  EXPECT_EQ(joined, r.final.text());
  EXPECT_EQ(r.final.finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(r.final.usage().generated_tokens(), 8u);
  EXPECT_GT(r.final.usage().prompt_tokens(), 3u);
  EXPECT_GT(r.final.timings().total_seconds(), 0);
  EXPECT_GE(r.final.timings().total_seconds(), r.final.timings().time_to_first_token_seconds());
}

TEST_F(ServeTest, SixteenConcurrentGreedyRequestsGiveWhatEachGivesAlone) {
  const std::vector<std::string> images = {"chelsea.png", "astronaut.jpg", "coffee.jpg",
                                           "rocket.jpg"};
  std::vector<v1::ChatRequest> requests;
  for (int i = 0; i < 16; ++i) {
    // Different images, lengths and questions: a ragged batch.
    requests.push_back(
        ChatAbout(Image(images[i % images.size()]),
                  absl::StrCat("Question ", i, ": what ", std::string(i % 5, 'x'), " do you see?"),
                  6 + i % 4));
  }
  std::vector<std::string> alone(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    ChatResult r = RunChat(*stub_, requests[i]);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    alone[i] = r.final.text();
  }
  std::vector<std::string> together(requests.size());
  std::vector<grpc::Status> statuses(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::Lmeye::NewStub(server_->Channel());
      ChatResult r = RunChat(*stub, requests[i]);
      statuses[i] = r.status;
      together[i] = r.final.text();
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(together[i], alone[i]) << "request " << i;
  }
  // The scheduler did batch them: some decode step ran more than one sequence. Every step runs at
  // least one, so the batch sizes sum past the step count only if one ran several. (The alone
  // runs before are all batches of one: sum == count until the concurrent ones.)
  const std::string scrape = server_->Metrics();
  const double steps = ServeProcess::Sample(scrape, "lmeye_batch_size_count", "phase=\"decode\"");
  const double sequences = ServeProcess::Sample(scrape, "lmeye_batch_size_sum", "phase=\"decode\"");
  ASSERT_GT(steps, 0);
  EXPECT_GT(sequences, steps) << "no decode step ran more than one sequence";
}

TEST_F(ServeTest, CancelledStreamFreesItsSequence) {
  grpc::ClientContext context;
  auto reader = stub_->Chat(&context, ChatAbout(Image("coffee.jpg"), "Describe it.", 400));
  v1::ChatResponse response;
  ASSERT_TRUE(reader->Read(&response));
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  double running = -1, kv_used = -1;
  for (int i = 0; i < 100; ++i) {
    const std::string scrape = server_->Metrics();
    running = ServeProcess::Sample(scrape, "lmeye_requests_running");
    kv_used = ServeProcess::Sample(scrape, "lmeye_kv_cache_used_tokens");
    if (running == 0 && kv_used == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(running, 0);
  EXPECT_EQ(kv_used, 0);
}

TEST_F(ServeTest, DeadlineIsHonoured) {
  const auto start = std::chrono::steady_clock::now();
  ChatResult r = RunChat(*stub_, ChatAbout(Image("rocket.jpg"), "Tell me everything.", 1000),
                         /*deadline_seconds=*/0.3);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ServeTest, EveryBadImageIsInvalidArgumentAndTheServerKeepsServing) {
  const std::vector<std::string> bad = {
      "bad_crc.png",          "huge_dims.jpg",  "huge_dims.png", "lying_header.png",
      "soi_then_garbage.jpg", "text_named.jpg", "truncated.jpg", "truncated.png",
      "zero_bytes.jpg",       "zero_width.png"};
  for (const std::string& name : bad) {
    v1::AnswerVQARequest request;
    request.set_image(Image("bad/" + name));
    request.set_question("What is this?");
    request.mutable_params()->set_max_new_tokens(2);
    v1::AnswerVQAResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->AnswerVQA(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_TRUE(absl::StrContains(status.error_message(), "image"))
        << name << ": " << status.error_message();
  }
  v1::AnswerVQARequest good;
  good.set_image(Image("astronaut.jpg"));
  good.set_question("Who is this?");
  good.mutable_params()->set_max_new_tokens(3);
  v1::AnswerVQAResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub_->AnswerVQA(&context, good, &response).ok());
  EXPECT_TRUE(server_->running());
}

TEST_F(ServeTest, MultipleChoiceScoresEveryChoice) {
  v1::AnswerVQARequest request;
  request.set_image(Image("chelsea.png"));
  request.set_question("What animal is this?");
  for (const char* c : {"a cat", "a dog", "a rocket"}) request.add_choices(c);
  v1::AnswerVQAResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->AnswerVQA(&context, request, &response).ok());
  ASSERT_EQ(response.choice_scores_size(), 3);
  ASSERT_GE(response.choice_index(), 0);
  ASSERT_LT(response.choice_index(), 3);
  EXPECT_EQ(response.answer(), response.choice_scores(response.choice_index()).text());
  for (const auto& s : response.choice_scores()) {
    EXPECT_LE(s.total_logprob(), response.choice_scores(response.choice_index()).total_logprob());
  }
}

TEST_F(ServeTest, DescribeUsesBeamSearch) {
  v1::DescribeRequest request;
  request.set_image(Image("astronaut.jpg"));
  request.mutable_params()->set_max_new_tokens(5);
  v1::DescribeResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->Describe(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), response.final().text());
  EXPECT_GT(response.final().usage().generated_tokens(), 0u);
}

TEST_F(ServeTest, ModelInfoDescribesTheModel) {
  v1::ModelInfo info;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_TRUE(absl::StrContains(info.llm_backbone(), "opt"));
  EXPECT_EQ(info.adapter_layout(), "lmeye");
  EXPECT_EQ(info.dtype(), "fp32");
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_GT(info.limits().max_new_tokens(), 0u);
}

TEST_F(ServeTest, MetricsExposeTheServingFigures) {
  RunChat(*stub_, ChatAbout(Image("chelsea.png"), "Hi", 2));
  const std::string scrape = server_->Metrics();
  for (const char* name :
       {"lmeye_requests_total", "lmeye_request_duration_seconds_bucket",
        "lmeye_request_queue_seconds_bucket", "lmeye_time_to_first_token_seconds_bucket",
        "lmeye_inter_token_seconds_bucket", "lmeye_batch_size_bucket", "lmeye_prompt_tokens_total",
        "lmeye_generated_tokens_total", "lmeye_requests_running", "lmeye_requests_waiting",
        "lmeye_kv_cache_used_tokens", "lmeye_kv_cache_capacity_tokens",
        "lmeye_image_cache_lookups_total", "lmeye_image_cache_hits_total",
        "lmeye_prefix_cache_lookups_total", "lmeye_step_duration_seconds_bucket"}) {
    EXPECT_TRUE(absl::StrContains(scrape, name)) << name;
  }
  EXPECT_TRUE(absl::StrContains(scrape, "phase=\"interaction\""));
}

// A server whose one running slot and one queue place are taken by long requests.
TEST(ServeQueueTest, FullQueueIsResourceExhausted) {
  ServeProcess server(Model::dir(),
                      {"--set", "scheduler.max_running=1", "--set", "scheduler.max_queue=1"},
                      Model::scratch());
  ASSERT_TRUE(server.started()) << server.log();
  std::atomic<int> exhausted{0}, ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto stub = v1::Lmeye::NewStub(server.Channel());
      ChatResult r = RunChat(*stub, ChatAbout(Image("chelsea.png"), "Go on.", 60));
      if (r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++exhausted;
      if (r.status.ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_GE(exhausted.load(), 1);
  EXPECT_GE(ok.load(), 1);
}

TEST(ServeAuthTest, BearerTokensGuardTheApiButNotHealth) {
  const std::string tokens = Model::scratch() + "/tokens";
  std::ofstream(tokens) << "# one per line\nsecret-token-1\n";
  ServeProcess server(Model::dir(), {"--set", "security.auth_token_file=" + tokens},
                      Model::scratch());
  ASSERT_TRUE(server.started()) << server.log();
  auto stub = v1::Lmeye::NewStub(server.Channel());
  auto info = [&](const std::string& header) {
    grpc::ClientContext context;
    if (!header.empty()) context.AddMetadata("authorization", header);
    v1::ModelInfo out;
    return stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &out).error_code();
  };
  EXPECT_EQ(info(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(info("Bearer wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(info("Bearer secret-token-1"), grpc::StatusCode::OK);
  EXPECT_EQ(HealthCheck(server.Channel().get(), ""), 1);
}

TEST(ServeDrainTest, SigtermDrainsInFlightWorkThenExitsZero) {
  ServeProcess server(Model::dir(), {}, Model::scratch());
  ASSERT_TRUE(server.started()) << server.log();
  auto stub = v1::Lmeye::NewStub(server.Channel());
  EXPECT_EQ(HealthCheck(server.Channel().get(), ""), 1);
  // A request in flight when the signal comes still gets its whole answer.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->Chat(&context, ChatAbout(Image("coffee.jpg"), "Describe it.", 40));
  v1::ChatResponse response;
  ASSERT_TRUE(reader->Read(&response));
  server.Signal(SIGTERM);
  int health = 1;
  for (int i = 0; i < 100 && health == 1; ++i) {
    health = HealthCheck(server.Channel().get(), "");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(health, 1) << "health still SERVING while draining";
  bool got_final = response.has_final();
  while (reader->Read(&response)) got_final |= response.has_final();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(got_final);
  EXPECT_EQ(server.Wait(30), 0) << server.log();
}

// Accepted work is served during a drain, queued requests included: two run at a time here, so
// most of the eight are still waiting for admission when the signal comes.
TEST(ServeDrainTest, SigtermServesQueuedRequestsToo) {
  ServeProcess server(Model::dir(), {"--set", "scheduler.max_running=2"}, Model::scratch());
  ASSERT_TRUE(server.started()) << server.log();
  constexpr int kStreams = 8;
  std::vector<grpc::Status> statuses(kStreams);
  std::vector<bool> finals(kStreams, false);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::Lmeye::NewStub(server.Channel());
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      auto reader = stub->Chat(&context, ChatAbout(Image("coffee.jpg"), "Describe it.", 30));
      v1::ChatResponse response;
      while (reader->Read(&response)) finals[i] = finals[i] || response.has_final();
      statuses[i] = reader->Finish();
    });
  }
  // Every stream accepted (the server counts it running or waiting) before the signal.
  for (int i = 0; i < 500; ++i) {
    const std::string scrape = server.Metrics();
    if (ServeProcess::Sample(scrape, "lmeye_requests_running") +
            ServeProcess::Sample(scrape, "lmeye_requests_waiting") >=
        kStreams) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto start = std::chrono::steady_clock::now();
  server.Signal(SIGTERM);
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_TRUE(finals[i]) << i;
  }
  EXPECT_EQ(server.Wait(30), 0) << server.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(25));
}

// A client we did not write: Python grpcio with stubs generated from the proto file.
TEST_F(ServeTest, PythonGrpcioClientUsesTheApi) {
  const std::string out = Model::scratch() + "/python.out";
  const std::string cmd = absl::StrCat(
      "/usr/bin/python3 ", LMEYE_SOURCE_DIR, "/tests/server/python_client.py --address ",
      server_->address(), " --proto-root ", LMEYE_SOURCE_DIR, "/proto --image ",
      TestData("images/chelsea.png"), " > ", out, " 2>&1");
  const int rc = std::system(cmd.c_str());
  const std::string output = ReadWholeFile(out);
  ASSERT_EQ(rc, 0) << output;
  EXPECT_TRUE(absl::StrContains(output, "\"empty_question\": \"INVALID_ARGUMENT\"")) << output;
}

}  // namespace
}  // namespace lmeye::testing
