// The worker's scheduler on a model `lmeye init-model` writes (tiny shapes, the real GPT-2
// tokenizer, real photos): batching changes no token (greedy, seeded sampling, IPN*, text-only,
// beam search, choices all equal LmeyeGenerator's one-at-a-time answers), streaming order,
// cancellation, deadlines, backpressure, bad images, drain, and the router over two workers.
#include "server/scheduler.h"

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/generate/generate.h"
#include "model/ipn/generator.h"
#include "model/ipn/init_model.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "server/router.h"
#include "server/worker.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

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

struct Submitted {
  std::shared_ptr<InferenceCall> call;
  std::shared_ptr<RecordingSink> sink;
};

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/lmeye_sched_XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    InitModelOptions options;
    options.family = LlmFamily::kOpt;
    options.tokenizer_dir = testing::TestData("tokenizers/gpt2");
    options.out_dir = *dir_ + "/model";
    options.seed = 3;
    auto report = InitModel(options);
    ASSERT_TRUE(report.ok()) << report.status();
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    model_dir_ = *dir_ + "/model";
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
      photos_.push_back(ReadFile(testing::TestData(std::string("images/") + name)));
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

  static std::string* dir_;
  std::string model_dir_;
  std::unique_ptr<LmeyeModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ClipImagePreprocessor> preprocessor_;
  std::unique_ptr<LmeyeGenerator> generator_;
  std::unique_ptr<PromptBuilder> builder_;
  std::vector<std::string> photos_;
  RecordingObserver observer_;
};

std::string* SchedulerTest::dir_ = nullptr;

TEST_F(SchedulerTest, SixteenConcurrentGreedyRequestsGiveTheirAloneIdsAndStreamInOrder) {
  const std::vector<std::string> questions = {
      "What animal is this?", "What colour is it?", "Is it day or night?", "Where is this?",
      "How many are there?",  "What is it doing?",  "Is it indoors?",      "Describe it."};
  std::vector<InferenceRequest> requests;
  for (int i = 0; i < 16; ++i) {
    InferenceRequest r = Vqa(questions[i % questions.size()], i % 3, 4 + i % 5);
    r.interaction = i % 4 != 3;  // some IPN* requests in the mix
    requests.push_back(std::move(r));
  }
  std::vector<GenerateResponse> alone;
  for (const InferenceRequest& r : requests) alone.push_back(Alone(r));

  SchedulerOptions options;
  options.max_running = 16;
  options.max_sequence_positions = 128;
  std::unique_ptr<Worker> worker = MakeWorker(options);
  ASSERT_NE(worker, nullptr);
  std::vector<Submitted> calls;
  for (const InferenceRequest& r : requests) calls.push_back(Submit(*worker, r));
  for (size_t i = 0; i < calls.size(); ++i) {
    auto result = calls[i].sink->Wait();
    ASSERT_TRUE(result.ok()) << i << ": " << result.status();
    EXPECT_FALSE(alone[i].tokens.empty()) << i;
    EXPECT_EQ(result->tokens, alone[i].tokens) << i;
    EXPECT_EQ(result->text, alone[i].text) << i;
    EXPECT_EQ(result->finish_reason, alone[i].finish_reason) << i;
    EXPECT_EQ(calls[i].sink->text(), result->text) << i;
    EXPECT_FALSE(calls[i].sink->contract_broken()) << i;
    EXPECT_EQ(result->n_prompt_tokens, alone[i].n_prompt_positions) << i;
    EXPECT_EQ(result->n_generated_tokens, static_cast<int>(result->tokens.size())) << i;
    EXPECT_GT(result->timings.total_seconds, 0.0);
    EXPECT_GE(result->timings.total_seconds, result->timings.first_token_seconds);
    EXPECT_GT(result->timings.first_token_seconds, 0.0);
  }
  EXPECT_TRUE(WaitIdle(*worker));
  // Requests that arrive together share batches.
  EXPECT_GT(observer_.max_batch(SchedulerPhase::kDecode), 1);
  EXPECT_GT(observer_.max_batch(SchedulerPhase::kFirstPass), 1);
  EXPECT_GE(observer_.max_batch(SchedulerPhase::kVision), 1);
  // The photos are in the image cache now.
  auto again = Submit(*worker, requests[0]).sink->Wait();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->image_cache_hit);
  EXPECT_EQ(again->tokens, alone[0].tokens);
}

TEST_F(SchedulerTest, SeededSamplingIsTheSameWhateverTheBatch) {
  InferenceRequest sampled = Vqa("Describe the colours.", 1, 10);
  sampled.sampling.temperature = 1.0;
  sampled.sampling.top_p = 0.95;
  sampled.sampling.seed = 1234;
  GenerateResponse alone = Alone(sampled);
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  Submitted solo = Submit(*worker, sampled);
  auto solo_result = solo.sink->Wait();
  ASSERT_TRUE(solo_result.ok()) << solo_result.status();
  EXPECT_EQ(solo_result->tokens, alone.tokens);
  std::vector<Submitted> crowd;
  for (int i = 0; i < 5; ++i) {
    InferenceRequest other = Vqa("What is this?", i, 8);
    other.sampling.temperature = 0.7;
    other.sampling.seed = 7 + i;
    crowd.push_back(Submit(*worker, other));
  }
  Submitted again = Submit(*worker, sampled);
  auto again_result = again.sink->Wait();
  ASSERT_TRUE(again_result.ok()) << again_result.status();
  EXPECT_EQ(again_result->tokens, alone.tokens);
  for (Submitted& c : crowd) EXPECT_TRUE(c.sink->Wait().ok());
}

TEST_F(SchedulerTest, BeamSearchChoicesAndTextOnlyEqualTheOneRequestPaths) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  InferenceRequest beams = Vqa("Where is the cat?", 0, 6);
  beams.num_beams = 3;
  GenerateResponse beams_alone = Alone(beams);

  std::vector<std::string> choice_texts = {"a cat", "a dog", "a rocket"};
  auto choice_prompt = builder_->MultipleChoice("What is in the picture?", choice_texts);
  ASSERT_TRUE(choice_prompt.ok()) << choice_prompt.status();
  auto scores_alone = generator_->ScoreChoices(photos_[0], *choice_prompt);
  ASSERT_TRUE(scores_alone.ok()) << scores_alone.status();
  InferenceRequest choices;
  choices.rpc = "AnswerVQA";
  choices.image = photos_[0];
  choices.kind = RequestKind::kScoreChoices;
  choices.prompt = choice_prompt->prompt;
  choices.choices = choice_prompt->choices;

  // Text-only chat: the plain LLM over [P, X].
  auto chat = builder_->Chat({{ChatRole::kHuman, "Hello, who are you?"}});
  ASSERT_TRUE(chat.ok()) << chat.status();
  InferenceRequest text_only;
  text_only.rpc = "Chat";
  text_only.prompt = *chat;
  text_only.sampling.max_new_tokens = 7;
  SamplingParams params = text_only.sampling;
  params.eos_token_ids = {tokenizer_->eos_id()};
  std::vector<int64_t> ids(chat->prefix.begin(), chat->prefix.end());
  ids.insert(ids.end(), chat->text.begin(), chat->text.end());
  auto text_alone = Generate(model_->llm(), ids, params, tokenizer_.get());
  ASSERT_TRUE(text_alone.ok()) << text_alone.status();

  // All at once, with a sampled request alongside.
  Submitted b = Submit(*worker, beams);
  Submitted c = Submit(*worker, choices);
  Submitted t = Submit(*worker, text_only);
  Submitted g = Submit(*worker, Vqa("What animal is this?"));
  auto b_result = b.sink->Wait();
  ASSERT_TRUE(b_result.ok()) << b_result.status();
  EXPECT_EQ(b_result->tokens, beams_alone.tokens);
  EXPECT_EQ(b_result->text, beams_alone.text);
  EXPECT_EQ(b.sink->text(), b_result->text);
  auto c_result = c.sink->Wait();
  ASSERT_TRUE(c_result.ok()) << c_result.status();
  ASSERT_EQ(c_result->choices.choices.size(), 3u);
  EXPECT_EQ(c_result->choices.best, scores_alone->best);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(c_result->choices.choices[i].total_logprob, scores_alone->choices[i].total_logprob,
                1e-4);
  }
  auto t_result = t.sink->Wait();
  ASSERT_TRUE(t_result.ok()) << t_result.status();
  EXPECT_EQ(t_result->tokens, text_alone->tokens);
  EXPECT_EQ(t_result->text, text_alone->text);
  EXPECT_EQ(t_result->n_prompt_tokens, static_cast<int>(ids.size()));
  EXPECT_TRUE(g.sink->Wait().ok());
  EXPECT_TRUE(WaitIdle(*worker));
}

TEST_F(SchedulerTest, CancelledRequestLeavesAndFreesItsKv) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  InferenceRequest endless = Vqa("Tell me everything.", 0, 900);
  endless.sampling.ignore_eos = true;
  Submitted s = Submit(*worker, endless);
  ASSERT_TRUE(s.sink->WaitForText(1));
  EXPECT_EQ(worker->load().running, 1);
  s.call->cancelled = true;
  auto result = s.sink->Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(WaitIdle(*worker));
  EXPECT_FALSE(s.sink->contract_broken());
  // And the worker still serves.
  EXPECT_TRUE(Submit(*worker, Vqa("What animal is this?")).sink->Wait().ok());
}

TEST_F(SchedulerTest, ExpiredDeadlineGivesDeadlineExceeded) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  InferenceRequest late = Vqa("Too late?", 0, 900);
  late.sampling.ignore_eos = true;
  late.deadline = absl::Now() + absl::Milliseconds(30);
  Submitted s = Submit(*worker, late);
  EXPECT_EQ(s.sink->Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
  InferenceRequest past = Vqa("Already late?");
  past.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(Submit(*worker, past).sink->Wait().status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(WaitIdle(*worker));
}

TEST_F(SchedulerTest, FullQueueAndRequestsThatCanNeverFitAreResourceExhausted) {
  SchedulerOptions options;
  options.max_running = 1;
  options.max_queue = 2;
  std::unique_ptr<Worker> worker = MakeWorker(options);
  ASSERT_NE(worker, nullptr);
  InferenceRequest endless = Vqa("Tell me everything.", 0, 900);
  endless.sampling.ignore_eos = true;
  Submitted running = Submit(*worker, endless);
  ASSERT_TRUE(running.sink->WaitForText(1));
  Submitted q1 = Submit(*worker, Vqa("One?"));
  Submitted q2 = Submit(*worker, Vqa("Two?"));
  Submitted q3 = Call(Vqa("Three?"));
  absl::Status full = worker->Submit(q3.call);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("queue full"));
  EXPECT_EQ(worker->load().waiting, 2);

  // Never fits: prompt + max_new_tokens over the per-sequence capacity; more beams than slots.
  Submitted too_long = Call(Vqa("How long?", 0, 1100));
  absl::Status status = worker->Submit(too_long.call);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("1024"));
  EXPECT_THAT(status.message(), HasSubstr("exceeds"));
  InferenceRequest wide = Vqa("Beams?");
  wide.num_beams = 2;
  Submitted beams = Call(wide);
  EXPECT_EQ(worker->Submit(beams.call).code(), absl::StatusCode::kResourceExhausted);

  running.call->cancelled = true;
  EXPECT_EQ(running.sink->Wait().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(q1.sink->Wait().ok());
  EXPECT_TRUE(q2.sink->Wait().ok());
  EXPECT_TRUE(WaitIdle(*worker));
}

TEST_F(SchedulerTest, RequestsThatDoNotFitTheBudgetsNowWaitAndAreServedLater) {
  // Room in the KV budget for two requests at a time, and one prompt per first pass.
  std::vector<InferenceRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(Vqa("What is this?", i, 8));
  const int per_request = requests[0].prompt.n_positions() + 8;  // prompt + max_new_tokens
  SchedulerOptions options;
  options.max_running = 8;
  options.max_sequence_positions = 64;
  options.kv_capacity_tokens = 2 * per_request + per_request / 2;
  options.max_batched_tokens = 1;
  RecordingObserver observer;
  std::unique_ptr<Worker> worker = MakeWorker(options, 0, &observer);
  ASSERT_NE(worker, nullptr);
  std::vector<Submitted> calls;
  for (const InferenceRequest& r : requests) calls.push_back(Submit(*worker, r));
  for (size_t i = 0; i < calls.size(); ++i) {
    auto result = calls[i].sink->Wait();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->tokens, Alone(requests[i]).tokens) << i;
  }
  EXPECT_EQ(observer.max_running(), 2);
  EXPECT_EQ(observer.max_batch(SchedulerPhase::kFirstPass), 1);
  EXPECT_TRUE(WaitIdle(*worker));
}

TEST_F(SchedulerTest, BadImagesAreInvalidArgumentAndTheWorkerKeepsServing) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  std::vector<Submitted> bad;
  for (const char* name : {"truncated.png", "bad_crc.png", "soi_then_garbage.jpg", "huge_dims.png",
                           "text_named.jpg"}) {
    InferenceRequest r = Vqa("What is this?");
    r.image = ReadFile(testing::TestData(std::string("images/bad/") + name));
    ASSERT_FALSE(r.image.empty()) << name;
    bad.push_back(Submit(*worker, r));
  }
  InferenceRequest garbage = Vqa("What is this?");
  garbage.image = "definitely not an image";
  bad.push_back(Submit(*worker, garbage));
  Submitted good = Submit(*worker, Vqa("What animal is this?"));
  for (Submitted& s : bad) {
    auto result = s.sink->Wait();
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_THAT(result.status().message(), HasSubstr("image"));
  }
  EXPECT_TRUE(good.sink->Wait().ok());
  EXPECT_TRUE(Submit(*worker, Vqa("And now?", 1)).sink->Wait().ok());
  EXPECT_TRUE(WaitIdle(*worker));
}

TEST_F(SchedulerTest, DrainFinishesInFlightWorkAndRefusesNewSubmits) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  std::vector<Submitted> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(Submit(*worker, Vqa("What is this?", i, 8)));
  worker->Drain(absl::Now() + absl::Seconds(60));
  for (Submitted& s : calls) EXPECT_TRUE(s.sink->Wait().ok());
  Submitted late = Call(Vqa("Still there?"));
  EXPECT_EQ(worker->Submit(late.call).code(), absl::StatusCode::kUnavailable);

  // A drain that times out ends what is left with UNAVAILABLE.
  std::unique_ptr<Worker> busy = MakeWorker();
  ASSERT_NE(busy, nullptr);
  InferenceRequest endless = Vqa("Tell me everything.", 0, 900);
  endless.sampling.ignore_eos = true;
  Submitted s = Submit(*busy, endless);
  ASSERT_TRUE(s.sink->WaitForText(1));
  busy->Drain(absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(s.sink->Wait().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, PrefixCacheReusesAChatsEarlierTurnAndChangesNoToken) {
  SchedulerOptions no_cache;
  no_cache.prefix_cache_entries = 0;
  std::unique_ptr<Worker> plain = MakeWorker(no_cache);
  RecordingObserver observer;
  std::unique_ptr<Worker> cached = MakeWorker({}, 0, &observer);
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(cached, nullptr);
  enum Mode { kInteractive, kStatic, kTextOnly };
  for (Mode mode : {kInteractive, kStatic, kTextOnly}) {
    SCOPED_TRACE(mode);
    std::vector<ChatMessage> messages = {{ChatRole::kHuman, "What is in this picture?"}};
    auto chat_request = [&]() {
      InferenceRequest r;
      r.rpc = "Chat";
      if (mode != kTextOnly) r.image = photos_[0];
      r.interaction = mode == kInteractive;
      auto prompt = builder_->Chat(messages);
      EXPECT_TRUE(prompt.ok()) << prompt.status();
      r.prompt = *prompt;
      r.sampling.max_new_tokens = 8;
      return r;
    };
    InferenceRequest turn1 = chat_request();
    auto first = Submit(*cached, turn1).sink->Wait();
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->tokens, Submit(*plain, turn1).sink->Wait()->tokens);
    messages.push_back({ChatRole::kAssistant, first->text.empty() ? "Nothing." : first->text});
    messages.push_back({ChatRole::kHuman, "And what colour is it?"});
    InferenceRequest turn2 = chat_request();
    const int hits_before = observer.prefix_hits();
    auto second = Submit(*cached, turn2).sink->Wait();
    auto reference = Submit(*plain, turn2).sink->Wait();
    ASSERT_TRUE(second.ok()) << second.status();
    ASSERT_TRUE(reference.ok()) << reference.status();
    EXPECT_EQ(second->tokens, reference->tokens);
    EXPECT_EQ(second->text, reference->text);
    EXPECT_EQ(reference->n_cached_prompt_tokens, 0);
    // At least turn 1's [P, h_img, X] (its <img-d> slot excluded) was not computed again.
    const int turn1_shared = first->n_prompt_tokens - (mode == kInteractive ? 1 : 0);
    EXPECT_GE(second->n_cached_prompt_tokens, turn1_shared);
    EXPECT_LT(second->n_cached_prompt_tokens, second->n_prompt_tokens);
    EXPECT_EQ(observer.prefix_hits(), hits_before + 1);
    if (mode != kTextOnly) {
      GenerateResponse alone = Alone(turn2);
      EXPECT_EQ(second->tokens, alone.tokens);
    }
  }
  EXPECT_TRUE(WaitIdle(*cached));
}

TEST_F(SchedulerTest, PrefixCacheFindsTheLongestSharedPrefixAndEvictsLeastRecent) {
  auto kv = model_->llm().NewCache(4, 32);
  ASSERT_TRUE(kv.ok()) << kv.status();
  KvCache& cache = **kv;
  PrefixCache prefixes(&cache, 2);
  ImageDigest cat = HashImageBytes("cat"), dog = HashImageBytes("dog");
  // A slot "holding" n positions: only lengths matter to the prefix cache.
  auto slot_with = [&](int n) {
    int slot = *cache.Allocate();
    cache.SetLength(slot, n);
    return slot;
  };
  const std::vector<int64_t> a = {2, kImagePositionKey, 10, 11, 12, 13};
  prefixes.Insert(slot_with(6), true, cat, a);
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_EQ(cache.n_free(), 3);
  // Longest shared prefix, capped by max_positions, refused under min_positions.
  auto match = prefixes.Lookup(true, cat, {2, kImagePositionKey, 10, 11, 99}, 2, 100);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->n_positions, 4);
  EXPECT_EQ(prefixes.Lookup(true, cat, a, 2, 5)->n_positions, 5);
  EXPECT_FALSE(prefixes.Lookup(true, cat, {2, kImagePositionKey, 77}, 3, 100).has_value());
  // Another image, or none, shares nothing.
  EXPECT_FALSE(prefixes.Lookup(true, dog, a, 1, 100).has_value());
  EXPECT_FALSE(prefixes.Lookup(false, cat, a, 1, 100).has_value());
  // A longer entry covering `a` replaces it; the same keys again keep the existing entry.
  std::vector<int64_t> longer = a;
  longer.push_back(14);
  prefixes.Insert(slot_with(9), true, cat, longer);  // truncated to its 7 keys
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_EQ(cache.n_free(), 3);
  prefixes.Insert(slot_with(7), true, cat, a);
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_EQ(prefixes.Lookup(true, cat, longer, 1, 100)->n_positions, 7);
  // Beyond max_entries the least recent goes, and EvictUntilFree releases slots.
  prefixes.Insert(slot_with(3), true, dog, {2, kImagePositionKey, 5});
  prefixes.Insert(slot_with(3), false, ImageDigest{}, {2, 5, 6});
  EXPECT_EQ(prefixes.size(), 2);
  EXPECT_FALSE(prefixes.Lookup(true, cat, longer, 1, 100).has_value());
  EXPECT_EQ(cache.n_free(), 2);
  prefixes.EvictUntilFree(3);
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_TRUE(prefixes.Lookup(false, ImageDigest{}, {2, 5, 6, 7}, 1, 100).has_value());
  prefixes.Clear();
  EXPECT_EQ(cache.n_free(), 4);
}

TEST_F(SchedulerTest, WorkerLoadsAModelDirectoryAndNamesBadOptions) {
  WorkerOptions options;
  options.model_dir = model_dir_;
  options.dtype = "fp32";
  options.device = "cpu";
  options.scheduler.max_running = 4;
  auto worker = Worker::Create(options);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ((*worker)->info().llm_family, "opt");
  EXPECT_EQ((*worker)->info().max_running, 4);
  InferenceRequest request = Vqa("What animal is this?");
  auto result = Submit(**worker, request).sink->Wait();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->tokens, Alone(request).tokens);

  auto expect_bad = [&](WorkerOptions bad, const std::string& field) {
    auto created = Worker::Create(bad);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(created.status().message(), HasSubstr(field));
  };
  WorkerOptions bad = options;
  bad.dtype = "fp64";
  expect_bad(bad, "dtype");
  bad = options;
  bad.device = "tpu:3";
  expect_bad(bad, "device");
  bad = options;
  bad.scheduler.max_running = 0;
  expect_bad(bad, "scheduler.max_running");
  bad = options;
  bad.scheduler.kv_capacity_tokens = 1 << 30;
  expect_bad(bad, "scheduler.kv_capacity_tokens");
}

TEST_F(SchedulerTest, WorkerDescribesItsModel) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  const WorkerModelInfo& info = worker->info();
  EXPECT_EQ(info.llm_family, "opt");
  EXPECT_EQ(info.dtype, "fp32");
  EXPECT_EQ(info.device, "cpu");
  EXPECT_EQ(info.vision_backbone, "clip");
  EXPECT_GT(info.vocab_size, 0);
  EXPECT_GT(info.image_size, 0);
  EXPECT_EQ(info.max_running, SchedulerOptions{}.max_running);
}

TEST_F(SchedulerTest, RouterSpreadsOverWorkersAndAnswersAsOne) {
  RecordingObserver observers[2];
  std::vector<std::unique_ptr<Worker>> workers;
  workers.push_back(MakeWorker({}, 0, &observers[0]));
  workers.push_back(MakeWorker({}, 1, &observers[1]));
  Router router(std::move(workers));
  std::vector<InferenceRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(Vqa("What is this?", i, 5));
  std::vector<GenerateResponse> alone;
  for (const InferenceRequest& r : requests) alone.push_back(Alone(r));
  std::vector<Submitted> calls;
  for (const InferenceRequest& r : requests) calls.push_back(Submit(router, r));
  for (size_t i = 0; i < calls.size(); ++i) {
    auto result = calls[i].sink->Wait();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->tokens, alone[i].tokens) << i;
  }
  // Least loaded: requests submitted together were spread over both workers.
  EXPECT_GT(observers[0].max_batch(SchedulerPhase::kFirstPass), 0);
  EXPECT_GT(observers[1].max_batch(SchedulerPhase::kFirstPass), 0);
  router.Drain(absl::Now() + absl::Seconds(10));
  Submitted late = Call(Vqa("Still there?"));
  EXPECT_EQ(router.Submit(late.call).code(), absl::StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, RouterTriesTheNextWorkerWhenTheLeastLoadedQueueIsFull) {
  SchedulerOptions small;
  small.max_running = 1;
  small.max_queue = 1;
  SchedulerOptions larger = small;
  larger.max_queue = 5;
  std::vector<std::unique_ptr<Worker>> workers;
  workers.push_back(MakeWorker(small, 0));
  workers.push_back(MakeWorker(larger, 1));
  Router router(std::move(workers));
  InferenceRequest endless = Vqa("Tell me everything.", 0, 900);
  endless.sampling.ignore_eos = true;
  Submitted busy0 = Submit(router, endless);  // tie: worker 0
  ASSERT_TRUE(busy0.sink->WaitForText(1));
  Submitted busy1 = Submit(router, endless);  // worker 1 is less loaded
  ASSERT_TRUE(busy1.sink->WaitForText(1));
  EXPECT_EQ(router.worker(0).load().running, 1);
  EXPECT_EQ(router.worker(1).load().running, 1);
  Submitted a = Submit(router, Vqa("A?"));  // tie: worker 0, whose queue is now full
  Submitted b = Submit(router, Vqa("B?"));  // worker 1
  Submitted c = Submit(router, Vqa("C?"));  // tie: worker 0 refuses, worker 1 takes it
  EXPECT_EQ(router.worker(0).load().waiting, 1);
  EXPECT_EQ(router.worker(1).load().waiting, 2);
  busy0.call->cancelled = true;
  busy1.call->cancelled = true;
  for (Submitted* s : {&a, &b, &c}) EXPECT_TRUE(s->sink->Wait().ok());
  EXPECT_EQ(busy0.sink->Wait().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(router.load().running, 0);
}

}  // namespace
}  // namespace lmeye
