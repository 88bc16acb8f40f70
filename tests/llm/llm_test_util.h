// Shared by the LLM golden tests: a fixture model (float32) with its golden tensors. Goldens are
// held to model/common/golden_tolerance.h's rule (MatchesGolden, tests/common/golden_expect.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "model/llm/llm_model.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye::testing {

inline const char* const kLlmFixtures[] = {"opt-tiny", "bloom-tiny", "llama-tiny"};

struct LlmFixture {
  std::string dir;
  std::unique_ptr<LlmModel> model;
  std::unique_ptr<SafetensorsFile> golden;

  at::Tensor Get(const std::string& name) const {
    auto t = golden->Load(name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : at::Tensor();
  }
  bool Has(const std::string& name) const { return golden->Contains(name); }
};

inline LlmFixture LoadLlmFixture(const std::string& name, at::ScalarType dtype = at::kFloat) {
  LlmFixture f;
  f.dir = TestData("models/" + name);
  LlmLoadOptions options;
  options.dtype = dtype;
  auto model = LlmModel::Load(f.dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) f.model = std::move(*model);
  auto golden = SafetensorsFile::Open(f.dir + "/golden.safetensors");
  EXPECT_TRUE(golden.ok()) << golden.status();
  if (golden.ok()) f.golden = std::move(*golden);
  return f;
}

// max |a - b| over positions where `mask` (broadcastable bool, optional) is true: for the
// comparisons that are not golden ones (bf16 against float32, by a looser bound).
inline double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask = {}) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  at::Tensor d = (a.to(at::kCPU, at::kDouble) - b.to(at::kCPU, at::kDouble)).abs();
  if (mask.defined()) d = d * mask.to(at::kCPU, at::kDouble).expand_as(d);
  return d.numel() == 0 ? 0.0 : d.max().item<double>();
}

// HF's forward(): LLaMA without position_ids counts arange(T) even over padding.
inline void HfPositions(const LlmConfig& config, LlmInput& in) {
  if (config.family == LlmFamily::kLlama) {
    const int64_t B = in.attention_mask.size(0), T = in.attention_mask.size(1);
    in.position_ids = at::arange(T, at::kLong).unsqueeze(0).expand({B, T});
  }
}

// Deterministic token ids for sequence `seed`.
inline std::vector<int64_t> Tokens(int64_t n, int64_t seed, int64_t vocab) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back((seed * 131 + i * 37 + 5) % vocab);
  return ids;
}

// [B, T] mask -> [B, T, 1] bool, for per-position tensors.
inline at::Tensor RealPositions(const at::Tensor& mask) { return mask.to(at::kBool).unsqueeze(-1); }

}  // namespace lmeye::testing
