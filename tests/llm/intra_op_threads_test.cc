// KeepAtenOpsOnThisThread (model/common/runtime.h): a helper thread's ATen ops stay on it while
// other threads keep the configured intra-op count, and a kernel's result does not depend on
// how many threads ran it.
#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/common/runtime.h"
#include "model/llm/decode_attention.h"

namespace lmeye {
namespace {

TEST(IntraOpThreadsTest, KeptThreadRunsAloneOthersKeepTheConfiguredCount) {
  ConfigureTorchThreads(2);
  int kept = 0, fresh = 0;
  std::thread([&] {
    KeepAtenOpsOnThisThread();
    // A parallel op first: ATen's lazy per-thread initialisation must not undo the setting.
    at::ones({1 << 16}).sum();
    kept = at::get_num_threads();
  }).join();
  std::thread([&] {
    at::ones({1 << 16}).sum();
    fresh = at::get_num_threads();
  }).join();
  EXPECT_EQ(kept, 1);
  EXPECT_EQ(fresh, 2);
}

TEST(IntraOpThreadsTest, DecodeAttentionGivesTheSameBitsOnOneThread) {
  ConfigureTorchThreads(2);
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  auto bf16 = at::TensorOptions().dtype(at::kBFloat16);
  at::Tensor k = at::randn({4, 2, 16, 64}, bf16), v = at::randn({4, 2, 16, 64}, bf16);
  at::Tensor q = at::randn({3, 1, 4, 64}, bf16), bias = at::zeros({3 * 2, 2, 16}, bf16);
  const std::vector<int64_t> slots = {3, 0, 2};
  at::Tensor two = DecodeAttention(q, k, v, slots, bias, 16, 0.125);
  at::Tensor one;
  std::thread([&] {
    KeepAtenOpsOnThisThread();
    torch::NoGradGuard thread_no_grad;  // grad mode is per thread
    one = DecodeAttention(q, k, v, slots, bias, 16, 0.125);
  }).join();
  EXPECT_TRUE(at::equal(one, two));
}

}  // namespace
}  // namespace lmeye
