// Worker creation from a model directory (and option errors naming the field), the model
// description GetModelInfo reports, and the least-loaded router over two workers.
#include "server/runtime/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/runtime/worker.h"
#include "tests/server/scheduler_test_util.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;
using testing::RecordingObserver;
using testing::Submitted;

class WorkerTest : public testing::WorkerTestBase {};
class RouterTest : public testing::WorkerTestBase {};

TEST_F(WorkerTest, LoadsAModelDirectoryAndNamesBadOptions) {
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

TEST_F(WorkerTest, DescribesItsModel) {
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

TEST_F(RouterTest, SpreadsOverWorkersAndAnswersAsOne) {
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

TEST_F(RouterTest, TriesTheNextWorkerWhenTheLeastLoadedQueueIsFull) {
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
