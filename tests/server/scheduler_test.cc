// The worker's scheduler on a model `lmeye init-model` writes (tiny shapes, the real GPT-2
// tokenizer, real photos): batching changes no token (greedy, seeded sampling, IPN*, text-only,
// beam search, choices and the prefix cache all equal LmeyeGenerator's one-at-a-time answers),
// streaming order, cancellation, deadlines, budgets and backpressure, bad images, drain.
#include "server/runtime/scheduler.h"

#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/generate/generate.h"
#include "tests/server/scheduler_test_util.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;
using testing::RecordingObserver;
using testing::Submitted;

class SchedulerTest : public testing::WorkerTestBase {
 protected:
  // A request that runs to max_new_tokens (EOS ignored); with num_beams > 1, a beam search.
  InferenceRequest Endless(int max_new_tokens, int num_beams = 1) {
    InferenceRequest r = Vqa("Tell me everything.", 0, max_new_tokens);
    r.sampling.ignore_eos = true;
    r.num_beams = num_beams;
    return r;
  }
  // Submits the beam search `beams` and returns once the worker is taking its steps (reported
  // to `observer`).
  static Submitted SubmitAndWaitForBeamSteps(Worker& worker, RecordingObserver& observer,
                                             const InferenceRequest& beams) {
    Submitted s = Submit(worker, beams);
    for (int i = 0; i < 2000 && observer.max_batch(SchedulerPhase::kBeamSearch) == 0; ++i) {
      usleep(1000);
    }
    EXPECT_EQ(observer.max_batch(SchedulerPhase::kBeamSearch), beams.num_beams);
    return s;
  }
};

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
  // The photos are in the image cache now.
  auto again = Submit(*worker, requests[0]).sink->Wait();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->image_cache_hit);
  EXPECT_EQ(again->tokens, alone[0].tokens);
}

// Requests queued while the scheduler is busy are taken together by its next iteration: one
// vision batch encodes their distinct images once each, and their interactions run as one batch.
TEST_F(SchedulerTest, RequestsThatArriveTogetherShareVisionAndInteractionBatches) {
  testing::GatedObserver gated;
  std::unique_ptr<Worker> worker = MakeHeldWorker(gated);
  ASSERT_NE(worker, nullptr);
  std::vector<Submitted> calls;
  for (int i = 0; i < 8; ++i) calls.push_back(Submit(*worker, Vqa("What is this?", i % 4, 3)));
  ASSERT_TRUE(ReleaseTogether(gated, 8));
  for (Submitted& c : calls) {
    auto result = c.sink->Wait();
    ASSERT_TRUE(result.ok()) << result.status();
  }
  EXPECT_TRUE(WaitIdle(*worker));
  // Four distinct photos: one encode each, in one batch; the two requests per photo share it.
  EXPECT_EQ(gated.max_batch(SchedulerPhase::kVision), 4);
  EXPECT_EQ(gated.max_batch(SchedulerPhase::kInteraction), 8);
  EXPECT_EQ(gated.max_batch(SchedulerPhase::kSecondPass), 8);
  EXPECT_GT(gated.max_batch(SchedulerPhase::kDecode), 1);  // unless all but one sampled EOS
}

// A request that fails inside a batched step fails alone: here a prompt id past the LLM's
// vocabulary (the edge never sends one; a fault the checks before the model missed), batched
// with good requests in one first pass. The good ones get exactly their alone answers.
TEST_F(SchedulerTest, ARequestThatFailsInABatchFailsAlone) {
  testing::GatedObserver gated;
  std::unique_ptr<Worker> worker = MakeHeldWorker(gated);
  ASSERT_NE(worker, nullptr);
  std::vector<InferenceRequest> good;
  for (int i = 0; i < 4; ++i) good.push_back(Vqa("What is this?", i, 5));
  InferenceRequest bad = Vqa("What is this?", 0, 5);
  bad.prompt.text.push_back(static_cast<int>(model_->llm().config().vocab_size) + 7);
  std::vector<Submitted> calls;
  for (int i = 0; i < 2; ++i) calls.push_back(Submit(*worker, good[i]));
  Submitted bad_call = Submit(*worker, bad);
  for (int i = 2; i < 4; ++i) calls.push_back(Submit(*worker, good[i]));
  ASSERT_TRUE(ReleaseTogether(gated, 5));
  auto failed = bad_call.sink->Wait();
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument) << failed.status();
  for (size_t i = 0; i < calls.size(); ++i) {
    auto result = calls[i].sink->Wait();
    ASSERT_TRUE(result.ok()) << i << ": " << result.status();
    EXPECT_EQ(result->tokens, Alone(good[i]).tokens) << i;
  }
  EXPECT_TRUE(WaitIdle(*worker));
  EXPECT_EQ(worker->load().kv_used_tokens, 0);
}

// A beam search takes one step per iteration: a short request submitted after it finishes first,
// and the beam request counts as running meanwhile.
TEST_F(SchedulerTest, BeamSearchDoesNotBlockTheWorker) {
  RecordingObserver observer;
  std::unique_ptr<Worker> worker = MakeWorker({}, 0, &observer);
  ASSERT_NE(worker, nullptr);
  const InferenceRequest beams = Endless(200, 3);
  Submitted long_beams = SubmitAndWaitForBeamSteps(*worker, observer, beams);
  Submitted quick = Submit(*worker, Vqa("What is this?", 1, 3));
  auto quick_result = quick.sink->Wait();
  ASSERT_TRUE(quick_result.ok()) << quick_result.status();
  EXPECT_FALSE(long_beams.sink->done()) << "the short request waited for the whole beam search";
  EXPECT_GE(observer.max_running(), 2);
  auto beam_result = long_beams.sink->Wait();
  ASSERT_TRUE(beam_result.ok()) << beam_result.status();
  EXPECT_EQ(beam_result->tokens, Alone(beams).tokens);
  EXPECT_TRUE(WaitIdle(*worker));
}

// What the scheduler ran in each iteration (between its OnQueueState reports).
class IterationLog : public testing::GatedObserver {
 public:
  struct Batch {
    SchedulerPhase phase;
    int batch_size;
    int n_tokens;
  };
  void OnBatch(SchedulerPhase phase, int batch_size, int n_tokens, double seconds) override {
    GatedObserver::OnBatch(phase, batch_size, n_tokens, seconds);
    if (phase == SchedulerPhase::kImageDecode) return;  // the image pool's threads
    std::lock_guard<std::mutex> lock(log_mu_);
    current_.push_back({phase, batch_size, n_tokens});
  }
  void OnQueueState(int worker, int waiting, int running, int64_t kv_used,
                    int64_t kv_capacity) override {
    {
      std::lock_guard<std::mutex> lock(log_mu_);
      if (!current_.empty()) iterations_.push_back(std::move(current_));
      current_.clear();
    }
    GatedObserver::OnQueueState(worker, waiting, running, kv_used, kv_capacity);
  }
  std::vector<std::vector<Batch>> iterations() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return iterations_;
  }

 private:
  std::mutex log_mu_;
  std::vector<Batch> current_;
  std::vector<std::vector<Batch>> iterations_;
};

// A beam search's beams are rows of the decode step the sampled requests run: while both run,
// each iteration makes one decode call holding the sampled rows and the beams, and the beam
// search's own phase computes no position. Every answer is its alone answer.
TEST_F(SchedulerTest, BeamsAreRowsOfTheOneDecodeStepOfEachIteration) {
  IterationLog log;
  std::unique_ptr<Worker> worker = MakeHeldWorker(log);
  ASSERT_NE(worker, nullptr);
  const int kBeams = 3;
  const int kBeamTokens = 10;
  const InferenceRequest beams = Endless(kBeamTokens, kBeams);
  std::vector<InferenceRequest> sampled;
  for (int i = 1; i <= 2; ++i) {
    InferenceRequest r = Vqa("What is in the picture?", i, 16);
    r.sampling.ignore_eos = true;
    sampled.push_back(r);
  }
  Submitted b = Submit(*worker, beams);
  std::vector<Submitted> s;
  for (const InferenceRequest& r : sampled) s.push_back(Submit(*worker, r));
  ASSERT_TRUE(ReleaseTogether(log, 3));
  auto b_result = b.sink->Wait();
  ASSERT_TRUE(b_result.ok()) << b_result.status();
  EXPECT_EQ(b_result->tokens, Alone(beams).tokens);
  for (size_t i = 0; i < s.size(); ++i) {
    auto result = s[i].sink->Wait();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->tokens, Alone(sampled[i]).tokens) << i;
  }
  EXPECT_TRUE(WaitIdle(*worker));

  int n_shared = 0;  // iterations whose one decode step held the beams and both sampled rows
  int n_beam_iterations = 0;
  for (const auto& iteration : log.iterations()) {
    int n_decode = 0;
    bool beam_phase = false;
    for (const IterationLog::Batch& batch : iteration) {
      if (batch.phase == SchedulerPhase::kDecode) {
        ++n_decode;
        if (batch.batch_size == kBeams + 2) ++n_shared;
      }
      if (batch.phase == SchedulerPhase::kBeamSearch) {
        beam_phase = true;
        EXPECT_EQ(batch.batch_size, kBeams);
        EXPECT_EQ(batch.n_tokens, 0) << "the beams ran a model step of their own";
      }
    }
    EXPECT_LE(n_decode, 1) << "more than one decode call in an iteration";
    n_beam_iterations += beam_phase ? 1 : 0;
  }
  // kBeamTokens choices, the last of which ends the search: one step fewer, each shared with
  // the sampled requests (they run longer).
  EXPECT_EQ(n_beam_iterations, kBeamTokens);
  EXPECT_EQ(n_shared, kBeamTokens - 1);
}

// A cancelled or expired beam search stops within one step and gives its slots back.
TEST_F(SchedulerTest, CancelledAndExpiredBeamSearchesStopAtOnce) {
  RecordingObserver observer;
  std::unique_ptr<Worker> worker = MakeWorker({}, 0, &observer);
  ASSERT_NE(worker, nullptr);
  const InferenceRequest beams = Endless(400, 4);
  Submitted cancelled = SubmitAndWaitForBeamSteps(*worker, observer, beams);
  const auto start = std::chrono::steady_clock::now();
  cancelled.call->cancelled = true;
  EXPECT_EQ(cancelled.sink->Wait().status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  InferenceRequest late = beams;
  late.deadline = absl::Now() + absl::Milliseconds(300);
  Submitted expired = Submit(*worker, late);
  EXPECT_EQ(expired.sink->Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_TRUE(WaitIdle(*worker));
  EXPECT_EQ(worker->load().kv_used_tokens, 0);
  // The worker still has every slot: a request needing all of them runs.
  InferenceRequest wide = Vqa("What is this?", 2, 4);
  wide.num_beams = SchedulerOptions{}.max_running;
  EXPECT_TRUE(Submit(*worker, wide).sink->Wait().ok());
}

// ignore_eos holds for beam search: EOS ids do not end or shape the search.
TEST_F(SchedulerTest, BeamSearchHonoursIgnoreEos) {
  std::unique_ptr<Worker> worker = MakeWorker();
  ASSERT_NE(worker, nullptr);
  InferenceRequest plain = Vqa("What is this?", 0, 12);
  plain.num_beams = 3;
  plain.sampling.ignore_eos = true;
  auto reference = Submit(*worker, plain).sink->Wait();
  ASSERT_TRUE(reference.ok()) << reference.status();
  ASSERT_EQ(reference->tokens.size(), 12u);
  // Make a token of the answer an EOS id: ignored, the same search; honoured, a different one
  // (no live beam holds an EOS token, so no hypothesis can equal the reference).
  InferenceRequest ignoring = plain;
  ignoring.sampling.eos_token_ids = {reference->tokens[5]};
  auto ignored = Submit(*worker, ignoring).sink->Wait();
  ASSERT_TRUE(ignored.ok()) << ignored.status();
  EXPECT_EQ(ignored->tokens, reference->tokens);
  EXPECT_EQ(ignored->finish_reason, FinishReason::kLength);
  InferenceRequest honouring = ignoring;
  honouring.sampling.ignore_eos = false;
  auto honoured = Submit(*worker, honouring).sink->Wait();
  ASSERT_TRUE(honoured.ok()) << honoured.status();
  EXPECT_NE(honoured->tokens, reference->tokens);
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
  InferenceRequest endless = Endless(900);
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

// Issue 29: cancelled requests stayed counted as waiting until the loop reaped them (the gauge
// read 65 with 48 clients). With the loop held, cancels count them out at once, in load() and
// in the observer; the loop still ends them with CANCELLED when it next looks.
TEST_F(SchedulerTest, CancelledWaitingRequestsLeaveTheWaitingCountAtOnce) {
  testing::GatedObserver gated;
  std::unique_ptr<Worker> worker = MakeHeldWorker(gated);
  ASSERT_NE(worker, nullptr);
  // Text-only: straight to the queue, no image decode.
  auto chat = builder_->Chat({{ChatRole::kHuman, "Hello, who are you?"}});
  ASSERT_TRUE(chat.ok()) << chat.status();
  InferenceRequest text_only;
  text_only.rpc = "Chat";
  text_only.prompt = *chat;
  text_only.sampling.max_new_tokens = 4;
  std::vector<Submitted> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(Submit(*worker, text_only));
  EXPECT_EQ(worker->load().waiting, 3);
  queued[0].call->Cancel();
  queued[2].call->Cancel();
  queued[2].call->Cancel();  // twice: counted out once
  EXPECT_EQ(worker->load().waiting, 1);
  EXPECT_EQ(gated.last_waiting(), 1);
  EXPECT_FALSE(queued[0].sink->done());  // not reaped yet: the loop is still held
  gated.Open();
  EXPECT_EQ(queued[0].sink->Wait().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(queued[2].sink->Wait().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(queued[1].sink->Wait().ok());
  EXPECT_TRUE(WaitIdle(*worker));
  EXPECT_EQ(worker->load().waiting, 0);
  EXPECT_EQ(gated.last_waiting(), 0);
  // A call cancelled before it is submitted is never counted.
  Submitted early = Call(Vqa("Too soon?"));
  early.call->Cancel();
  ASSERT_TRUE(worker->Submit(early.call).ok());
  EXPECT_EQ(worker->load().waiting, 0);
  EXPECT_EQ(early.sink->Wait().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(WaitIdle(*worker));
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
  InferenceRequest endless = Endless(900);
  Submitted running = Submit(*worker, endless);
  ASSERT_TRUE(running.sink->WaitForText(1));
  Submitted q1 = Submit(*worker, Vqa("One?"));
  Submitted q2 = Submit(*worker, Vqa("Two?"));
  Submitted q3 = Call(Vqa("Three?"));
  absl::Status full = worker->Submit(q3.call);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("queue full"));
  EXPECT_EQ(worker->load().waiting, 2);

  // Never fits: a prompt that leaves no position to generate in; more beams than slots.
  InferenceRequest long_prompt = Vqa("How long?", 0, 4);
  long_prompt.prompt.text.resize(1030, long_prompt.prompt.text.back());
  Submitted too_long = Call(long_prompt);
  absl::Status status = worker->Submit(too_long.call);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("1024"));
  EXPECT_THAT(status.message(), HasSubstr("prompt too long"));
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

// max_new_tokens past the per-sequence capacity is capped, not refused: the answer runs to the
// last position and ends with finish reason "length". Greedy, beams and co-batched requests alike.
TEST_F(SchedulerTest, MaxNewTokensPastTheCapacityIsCappedAndEndsWithLength) {
  SchedulerOptions options;
  options.max_running = 6;
  options.max_sequence_positions = 40;
  std::unique_ptr<Worker> worker = MakeWorker(options);
  ASSERT_NE(worker, nullptr);
  InferenceRequest endless = Endless(400);
  const int room = 40 - endless.prompt.n_positions();
  ASSERT_GT(room, 0);
  const InferenceRequest beams = Endless(400, 2);
  std::vector<Submitted> calls = {Submit(*worker, endless), Submit(*worker, Vqa("Short?", 1, 3)),
                                  Submit(*worker, endless), Submit(*worker, beams)};
  for (size_t i = 0; i < calls.size(); ++i) {
    auto result = calls[i].sink->Wait();
    ASSERT_TRUE(result.ok()) << i << ": " << result.status();
    if (i == 1) continue;
    EXPECT_LE(result->n_generated_tokens, room) << i;
    if (i == 3) continue;  // a beam may still end at EOS
    EXPECT_EQ(result->n_generated_tokens, room) << i;
    EXPECT_EQ(result->finish_reason, FinishReason::kLength) << i;
  }
  EXPECT_TRUE(WaitIdle(*worker));
}

// The model's learned position table bounds the scheduler: a worker configured past it runs
// within it, so a request can never reach a position the LLM does not have.
TEST_F(SchedulerTest, SequencesAreClampedToTheModelsPositionTable) {
  const int64_t table = model_->max_sequence_positions();
  ASSERT_GT(table, 0);  // the tiny model is OPT
  SchedulerOptions options;
  options.max_running = 2;
  options.max_sequence_positions = static_cast<int>(table) + 500;
  options.kv_capacity_tokens = 2 * (table + 500);
  std::unique_ptr<Worker> worker = MakeWorker(options);
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->info().max_sequence_positions, table);
  EXPECT_EQ(worker->info().kv_capacity_tokens, 2 * table);
  InferenceRequest endless = Endless(static_cast<int>(table) + 100);
  Submitted a = Submit(*worker, endless), b = Submit(*worker, Vqa("Short?", 1, 3));
  auto result = a.sink->Wait();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->finish_reason, FinishReason::kLength);
  EXPECT_EQ(result->n_generated_tokens, table - endless.prompt.n_positions());
  EXPECT_TRUE(b.sink->Wait().ok());
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
    r.image = ReadFileToString(testing::TestData(std::string("images/bad/") + name)).value();
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
  // Two run at a time: most of the accepted requests are still queued when the drain starts,
  // and are served too.
  SchedulerOptions two;
  two.max_running = 2;
  std::unique_ptr<Worker> worker = MakeWorker(two);
  ASSERT_NE(worker, nullptr);
  std::vector<Submitted> calls;
  for (int i = 0; i < 8; ++i) calls.push_back(Submit(*worker, Vqa("What is this?", i, 8)));
  const auto start = std::chrono::steady_clock::now();
  worker->Drain(absl::Now() + absl::Seconds(60));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  for (Submitted& s : calls) EXPECT_TRUE(s.sink->Wait().ok());
  Submitted late = Call(Vqa("Still there?"));
  EXPECT_EQ(worker->Submit(late.call).code(), absl::StatusCode::kUnavailable);

  // A drain that times out ends what is left with UNAVAILABLE.
  std::unique_ptr<Worker> busy = MakeWorker();
  ASSERT_NE(busy, nullptr);
  InferenceRequest endless = Endless(900);
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

}  // namespace
}  // namespace lmeye
