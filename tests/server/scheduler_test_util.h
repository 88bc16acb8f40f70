// Shared by the scheduler, worker and router tests: a model `lmeye init-model` writes once per
// suite (tiny OPT shapes, the real GPT-2 tokenizer), real photos, a recording ResponseSink that
// checks the sink contract, a recording SchedulerObserver, and LmeyeGenerator as the
// one-request-at-a-time reference.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "model/common/file_util.h"
#include "model/ipn/generator.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tools/init_model.h"
#include "server/runtime/worker.h"
#include "tests/common/test_data.h"
#include "tests/common/tiny_lmeye_model.h"

namespace lmeye::testing {

// Records what a request receives and checks the sink contract as it goes: OnDone once, last.
class RecordingSink : public ResponseSink {
 public:
  void OnText(absl::string_view delta) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) contract_broken_ = true;
    if (delta.empty()) contract_broken_ = true;
    text_.append(delta.data(), delta.size());
    ++n_text_;
    cv_.notify_all();
  }
  void OnDone(absl::StatusOr<InferenceResult> result) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) contract_broken_ = true;
    done_ = true;
    result_ = std::move(result);
    cv_.notify_all();
  }

  absl::StatusOr<InferenceResult> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [this] { return done_; }))
        << "no OnDone within 60 s";
    if (!done_) return absl::DeadlineExceededError("test: no OnDone");
    return result_;
  }
  bool WaitForText(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return n_text_ >= n || done_; });
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  bool contract_broken() {
    std::lock_guard<std::mutex> lock(mu_);
    return contract_broken_;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  int n_text_ = 0;
  bool done_ = false;
  bool contract_broken_ = false;
  absl::StatusOr<InferenceResult> result_ = absl::UnknownError("no result");
};

class RecordingObserver : public SchedulerObserver {
 public:
  void OnBatch(SchedulerPhase phase, int batch_size, int, double) override {
    std::lock_guard<std::mutex> lock(mu_);
    int& m = max_batch_[phase];
    m = std::max(m, batch_size);
  }
  void OnQueueState(int, int waiting, int running, int64_t kv_used, int64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    max_running_ = std::max(max_running_, running);
    last_waiting_ = waiting;
    last_running_ = running;
    last_kv_used_ = kv_used;
  }
  void OnImageCacheLookup(bool hit) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++image_lookups_;
    image_hits_ += hit ? 1 : 0;
  }
  void OnPrefixCacheLookup(bool hit, int reused) override {
    std::lock_guard<std::mutex> lock(mu_);
    prefix_hits_ += hit ? 1 : 0;
    prefix_reused_ += reused;
  }

  int max_batch(SchedulerPhase phase) {
    std::lock_guard<std::mutex> lock(mu_);
    return max_batch_[phase];
  }
  int image_hits() {
    std::lock_guard<std::mutex> lock(mu_);
    return image_hits_;
  }
  int max_running() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_running_;
  }
  int last_waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_waiting_;
  }
  int prefix_hits() {
    std::lock_guard<std::mutex> lock(mu_);
    return prefix_hits_;
  }

 private:
  std::mutex mu_;
  std::map<SchedulerPhase, int> max_batch_;
  int last_waiting_ = 0, last_running_ = 0, max_running_ = 0;
  int64_t last_kv_used_ = 0;
  int image_lookups_ = 0, image_hits_ = 0;
  int prefix_hits_ = 0, prefix_reused_ = 0;
};

// A RecordingObserver that can hold the scheduler thread at the end of an iteration
// (OnQueueState), so that a test can queue several requests and have the next iteration take them
// all at once. The hold gives up after 10 s so that a failing test cannot hang the suite. Only
// the scheduler thread (the first to report) is held: a cancel reports from its own thread.
class GatedObserver : public RecordingObserver {
 public:
  void OnQueueState(int worker, int waiting, int running, int64_t kv_used,
                    int64_t kv_capacity) override {
    RecordingObserver::OnQueueState(worker, waiting, running, kv_used, kv_capacity);
    std::unique_lock<std::mutex> lock(gate_mu_);
    if (scheduler_thread_ == std::thread::id()) scheduler_thread_ = std::this_thread::get_id();
    if (std::this_thread::get_id() != scheduler_thread_) return;
    held_ = closed_;
    gate_.notify_all();
    gate_.wait_for(lock, std::chrono::seconds(10), [this] { return !closed_; });
    held_ = false;
  }
  void OnBatch(SchedulerPhase phase, int batch_size, int n_tokens, double seconds) override {
    RecordingObserver::OnBatch(phase, batch_size, n_tokens, seconds);
    if (phase != SchedulerPhase::kImageDecode) return;
    std::lock_guard<std::mutex> lock(gate_mu_);
    ++n_decoded_;
    gate_.notify_all();
  }

  void Close() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    closed_ = true;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    closed_ = false;
    gate_.notify_all();
  }
  // True once the scheduler thread is held at the gate.
  bool WaitHeld() {
    std::unique_lock<std::mutex> lock(gate_mu_);
    return gate_.wait_for(lock, std::chrono::seconds(10), [this] { return held_; });
  }
  // True once the image pool has decoded `n` images.
  bool WaitDecoded(int n) {
    std::unique_lock<std::mutex> lock(gate_mu_);
    return gate_.wait_for(lock, std::chrono::seconds(10), [&] { return n_decoded_ >= n; });
  }

 private:
  std::mutex gate_mu_;
  std::condition_variable gate_;
  std::thread::id scheduler_thread_;
  bool closed_ = false;
  bool held_ = false;
  int n_decoded_ = 0;
};

struct Submitted {
  std::shared_ptr<InferenceCall> call;
  std::shared_ptr<RecordingSink> sink;
};

class WorkerTestBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_model_ = new testing::TinyLmeyeModelDir(/*seed=*/3);
    ASSERT_TRUE(tiny_model_->status().ok()) << tiny_model_->status();
  }
  static void TearDownTestSuite() {
    delete tiny_model_;
    tiny_model_ = nullptr;
  }

  void SetUp() override {
    model_dir_ = tiny_model_->path();
    auto model = LmeyeModel::Load(model_dir_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto tokenizer = LoadTokenizer(model_dir_ + "/llm");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::move(*tokenizer);
    auto preprocessor =
        ClipImagePreprocessor::FromFile(model_dir_ + "/clip/preprocessor_config.json");
    ASSERT_TRUE(preprocessor.ok()) << preprocessor.status();
    preprocessor_ = std::make_unique<ClipImagePreprocessor>(*preprocessor);
    EngineOptions engine_options;
    engine_options.n_slots = 6;
    engine_options.capacity = 256;
    auto generator = LmeyeGenerator::Create(model_.get(), tokenizer_.get(), *preprocessor_, nullptr,
                                            engine_options);
    ASSERT_TRUE(generator.ok()) << generator.status();
    generator_ = std::move(*generator);
    auto builder = PromptBuilder::Create(tokenizer_.get());
    ASSERT_TRUE(builder.ok()) << builder.status();
    builder_ = std::make_unique<PromptBuilder>(std::move(*builder));
    for (const char* name : {"chelsea.png", "coffee.jpg", "rocket.jpg", "astronaut.jpg"}) {
      photos_.push_back(ReadFileToString(testing::TestData(std::string("images/") + name)).value());
    }
  }

  std::unique_ptr<Worker> MakeWorker(SchedulerOptions scheduler = {}, int index = 0,
                                     RecordingObserver* observer = nullptr) {
    WorkerOptions options;
    options.model_dir = model_dir_;
    options.scheduler = scheduler;
    options.index = index;
    auto worker = Worker::CreateForModel(model_.get(), tokenizer_.get(), *preprocessor_, options,
                                         observer != nullptr ? observer : &observer_);
    EXPECT_TRUE(worker.ok()) << worker.status();
    return worker.ok() ? std::move(*worker) : nullptr;
  }

  // A worker (8 running, 128 positions) held at the end of an iteration by `gated` until
  // ReleaseTogether: the requests submitted meanwhile start in one iteration. Null on failure.
  std::unique_ptr<Worker> MakeHeldWorker(GatedObserver& gated) {
    SchedulerOptions options;
    options.max_running = 8;
    options.max_sequence_positions = 128;
    gated.Close();
    std::unique_ptr<Worker> worker = MakeWorker(options, 0, &gated);
    if (worker == nullptr || !gated.WaitHeld()) return nullptr;
    return worker;
  }

  // Opens the gate once the pool has decoded `n_images` (it queues a request right after its
  // decode; the pause covers that last step). False if the images were not all decoded.
  static bool ReleaseTogether(GatedObserver& gated, int n_images) {
    const bool decoded = gated.WaitDecoded(n_images);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gated.Open();
    return decoded;
  }

  InferenceRequest Vqa(const std::string& question, int image = 0, int max_new_tokens = 6) {
    InferenceRequest request;
    request.rpc = "AnswerVQA";
    request.image = photos_[image % photos_.size()];
    auto prompt = builder_->AnswerVqa(question);
    EXPECT_TRUE(prompt.ok()) << prompt.status();
    request.prompt = *prompt;
    request.sampling.max_new_tokens = max_new_tokens;
    return request;
  }

  // The same request through LmeyeGenerator, alone.
  GenerateResponse Alone(const InferenceRequest& request) {
    GenerateRequest g;
    g.image = request.image;
    g.prompt = request.prompt;
    g.interaction = request.interaction;
    g.sampling = request.sampling;
    g.num_beams = request.num_beams;
    g.length_penalty = request.length_penalty;
    auto response = generator_->Generate(g);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : GenerateResponse{};
  }

  static Submitted Call(InferenceRequest request) {
    Submitted s;
    s.call = std::make_shared<InferenceCall>();
    s.call->request = std::move(request);
    s.sink = std::make_shared<RecordingSink>();
    s.call->sink = s.sink;
    return s;
  }

  static Submitted Submit(InferenceBackend& backend, InferenceRequest request) {
    Submitted s = Call(std::move(request));
    absl::Status status = backend.Submit(s.call);
    EXPECT_TRUE(status.ok()) << status;
    return s;
  }

  // Polls until the worker reports nothing running and no KV in use.
  static bool WaitIdle(Worker& worker) {
    for (int i = 0; i < 2000; ++i) {
      WorkerLoad load = worker.load();
      if (load.running == 0 && load.waiting == 0 && load.kv_used_tokens == 0) return true;
      usleep(1000);
    }
    return false;
  }

  inline static testing::TinyLmeyeModelDir* tiny_model_ = nullptr;
  std::string model_dir_;
  std::unique_ptr<LmeyeModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ClipImagePreprocessor> preprocessor_;
  std::unique_ptr<LmeyeGenerator> generator_;
  std::unique_ptr<PromptBuilder> builder_;
  std::vector<std::string> photos_;
  RecordingObserver observer_;
};

}  // namespace lmeye::testing
