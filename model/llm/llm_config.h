// The configuration of a decoder-only causal LM (OPT, BLOOM, LLaMA), parsed from a Hugging Face
// `config.json`. Keys that the file omits take the transformers (v4.35) defaults of the family;
// the key names and defaults live in the family tables of llm_arch.cc, not in this parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

enum class LlmFamily { kOpt, kBloom, kLlama };

// "opt", "bloom", "llama".
const char* LlmFamilyName(LlmFamily family);

enum class LlmNorm { kLayerNorm, kRmsNorm };
// Where position information enters: OPT adds learned position embeddings to the input, BLOOM
// biases attention scores (ALiBi), LLaMA rotates queries and keys (RoPE).
enum class LlmPositions { kLearned, kAlibi, kRope };
// kBloomGelu: BLOOM's own tanh approximation with the rounded constant 0.79788456; kGeluTanh:
// transformers' gelu_new / gelu_pytorch_tanh.
enum class LlmActivation { kRelu, kGelu, kGeluTanh, kBloomGelu, kSilu };

struct LlmConfig {
  LlmFamily family = LlmFamily::kLlama;
  std::string model_type;    // config.json "model_type"
  std::string architecture;  // first of config.json "architectures" (may be empty)

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;  // width of the residual stream
  // Width of token embeddings, of `inputs_embeds` and of the final hidden state that lm_head
  // reads: OPT's word_embed_proj_dim (project_in/project_out map it to hidden_size), else
  // hidden_size.
  int64_t embed_dim = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // < n_heads: grouped-query attention (LLaMA)
  int64_t head_dim = 0;    // hidden_size / n_heads
  int64_t ffn_dim = 0;
  int64_t max_positions = 0;  // OPT: rows of the learned position table (minus the offset 2)

  LlmNorm norm = LlmNorm::kLayerNorm;
  double norm_eps = 1e-5;
  bool norm_affine = true;          // OPT layer_norm_elementwise_affine
  bool norm_before = true;          // OPT do_layer_norm_before (false: OPT-350m's post-norm)
  bool final_norm = true;           // OPT: do_layer_norm_before && !_remove_final_layer_norm
  bool embed_norm = false;          // BLOOM word_embeddings_layernorm
  bool residual_post_norm = false;  // BLOOM apply_residual_connection_post_layernorm
  LlmPositions positions = LlmPositions::kRope;
  LlmActivation activation = LlmActivation::kSilu;
  bool gated_mlp = false;  // LLaMA SwiGLU: down(act(gate(x)) * up(x))
  bool fused_qkv = false;  // BLOOM query_key_value, per-head [q, k, v] layout
  bool attn_bias = false;
  bool mlp_bias = false;
  double rope_theta = 10000.0;
  double rope_linear_factor = 1.0;  // rope_scaling {"type": "linear", "factor": f}
  bool tie_word_embeddings = false;

  int64_t bos_token_id = -1;           // -1: none
  int64_t pad_token_id = -1;           // -1: none
  std::vector<int64_t> eos_token_ids;  // config.json allows an int or a list
};

// Parses a config.json object. Errors (INVALID_ARGUMENT) name the offending key: an unknown
// model_type or unsupported architecture (listing the supported ones), a value of the wrong type,
// an unsupported activation or rope_scaling, inconsistent sizes (hidden_size % n_heads, ...).
absl::StatusOr<LlmConfig> ParseLlmConfig(const nlohmann::json& json);

// Reads and parses `dir`/config.json.
absl::StatusOr<LlmConfig> LoadLlmConfig(const std::string& dir);

}  // namespace lmeye
