// Greedy tokens of an LLM directory from given prompt ids, with the margin between the best and
// second-best logit at each step: the reference that another runtime of the same weights (llama.cpp
// on an exported GGUF, deploy/bench_peers.sh) is checked against. A step whose margin is below
// the other runtime's rounding (f16, q8_0) may legitimately differ; a wrong RoPE layout or
// tensor name differs from the first step at any margin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

struct GreedyReferenceOptions {
  std::string llm_dir;
  at::ScalarType dtype = at::kFloat;
  int n_prompt = 16;  // BOS, then ids drawn from `seed`
  int n_steps = 32;
  uint64_t seed = 0;
};

struct GreedyReference {
  std::vector<int64_t> prompt;
  std::vector<int64_t> tokens;
  std::vector<float> margins;  // top-1 minus top-2 logit of each step
};

// Prompt ids avoid the first 259 (LLaMA SentencePiece's control and byte pieces) and stay below
// 32000 (its pieces; past them an exported vocabulary has only padding entries).
absl::StatusOr<GreedyReference> RunGreedyReference(const GreedyReferenceOptions& options);
nlohmann::json GreedyReferenceToJson(const GreedyReference& reference);

}  // namespace lmeye
