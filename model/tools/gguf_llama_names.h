// Where each tensor of a Hugging Face LLaMA checkpoint goes in a llama.cpp GGUF file: llama.cpp's
// tensor names (gguf-py's MODEL_TENSORS for LLM_ARCH_LLAMA) and the one layout change it needs.
//
// RoPE layout: Hugging Face's LLaMA rotates halves (dimension i of a head pairs with i + d/2);
// llama.cpp's LLaMA rope pairs adjacent dimensions (2i with 2i + 1). Meta's original weights are
// in the adjacent-pair layout, and HF's conversion permuted q_proj/k_proj rows into halves; a GGUF
// converter undoes that per head: within each head, row j * d/2 + i moves to row 2i + j. q_proj
// has n_heads heads, k_proj n_kv_heads. Scores q.k are unchanged by permuting both alike, so
// the model computes the same function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/llm/llm_config.h"

namespace lmeye {

struct GgufLlamaTensor {
  std::string hf_name;    // "model.layers.0.self_attn.q_proj.weight"
  std::string gguf_name;  // "blk.0.attn_q.weight"
  // > 0: the rows are RoPE'd heads, this many, to permute with PermuteRopeRows.
  int64_t rope_heads = 0;
};

// Every tensor of a LLaMA `config`, in llama.cpp's order: token_embd, the blocks, output_norm,
// output (absent when the embeddings are tied: llama.cpp then reads token_embd). InvalidArgument
// for a non-LLaMA family or biases (llama.cpp's LLaMA has none).
absl::StatusOr<std::vector<GgufLlamaTensor>> LlamaGgufTensors(const LlmConfig& config);

// [n_heads * d, in] rows from rotate-half to adjacent pairs within each head (see above).
at::Tensor PermuteRopeRows(const at::Tensor& weight, int64_t n_heads);

}  // namespace lmeye
