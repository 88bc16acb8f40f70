// Shared by the T5 tests: the BLIP-2 Flan-T5 fixture's language model (float32) with its
// goldens, and helpers for greedy decoding through the slot cache.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "model/llm/t5_model.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"
#include "tests/llm/llm_test_util.h"

namespace lmeye::testing {

inline const char* const kT5Samples[] = {"s0", "s1", "s2"};

struct T5Fixture {
  std::string dir;  // the fixture's blip2/ directory
  std::unique_ptr<T5Model> model;
  std::unique_ptr<SafetensorsFile> golden;

  at::Tensor Get(const std::string& name) const {
    auto t = golden->Load(name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : at::Tensor();
  }
  // A sample's second-pass encoder input [1, T, d] and mask [1, T].
  at::Tensor Embeds(const std::string& s, const std::string& pass = "second") const {
    return Get(s + "." + pass + ".inputs_embeds").unsqueeze(0);
  }
  at::Tensor Mask(const std::string& s) const {
    return Get(s + ".encoder_attention_mask").unsqueeze(0);
  }
  // The model's encoder output of a sample's second pass, [1, T, d].
  at::Tensor Encoded(const std::string& s) const {
    auto out = model->Encode(Embeds(s), Mask(s));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : at::Tensor();
  }
};

inline T5Fixture LoadT5Fixture() {
  T5Fixture f;
  const std::string root = TestData("models/lingcloud-blip2-tiny");
  f.dir = root + "/blip2";
  auto model = T5Model::Load(f.dir);
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) f.model = std::move(*model);
  auto golden = SafetensorsFile::Open(root + "/golden.safetensors");
  EXPECT_TRUE(golden.ok()) << golden.status();
  if (golden.ok()) f.golden = std::move(*golden);
  return f;
}

// [[id]]
inline at::Tensor Token(int64_t id) { return at::full({1, 1}, id, at::kLong); }

// One DecodeStep, expected to succeed; logits [B, V].
inline at::Tensor Step(const T5Model& model, const at::Tensor& ids, T5Cache& cache,
                       const std::vector<int>& slots) {
  auto out = model.DecodeStep(ids, cache, slots);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : at::Tensor();
}

}  // namespace lmeye::testing
