// The generic decoder as a libtorch module tree whose parameter names are the checkpoint keys
// of the family (docs/STYLE.md 3), e.g. OPT "model.decoder.layers.0.self_attn.q_proj.weight", BLOOM
// "transformer.h.0.self_attention.query_key_value.weight", LLaMA "model.layers.0.mlp.gate_proj
// .weight". The names come from the family table (llm_arch.h); which parts exist comes from the
// config. Internal to model/llm: the public API is LlmModel (llm_model.h).
//
// Parameters are created uninitialised in the compute dtype on the target device (no random
// init: a 7B model is loaded, never trained) and filled by LoadModuleWeights. After loading the
// tree is read-only; forward functions may run concurrently on different inputs and caches.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "model/llm/kv_cache.h"
#include "model/llm/llm_arch.h"
#include "model/llm/llm_config.h"
#include "model/llm/small_batch_linear.h"

namespace lmeye {

// y = x W^T + b, parameters "weight" [out, in] and optional "bias" [out].
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const at::TensorOptions& options);
  // Parameters that are views of a larger tensor (weight [out, in], bias [out] or undefined):
  // projections that share one GEMM (see DecoderLayerImpl) keep their checkpoint names.
  LinearImpl(const at::Tensor& weight, const at::Tensor& bias);
  at::Tensor forward(const at::Tensor& x) const {
    return int8_.defined() ? ApplyLinear(x, int8_, bias_) : ApplyLinear(x, weight_, bias_);
  }
  const at::Tensor& weight() const { return weight_; }
  // Replaces the weight by its int8 form (int8_weight.h) when Int8Quantizable, releasing the
  // dense one (ReleaseWeight); false, and nothing changes, otherwise.
  bool QuantizeInt8();
  // The "weight" parameter becomes an empty tensor, its memory freed once no view holds it:
  // for a layer whose product is computed from another copy of the weight.
  void ReleaseWeight();

 private:
  at::Tensor weight_, bias_;
  Int8Weight int8_;
};
TORCH_MODULE(Linear);

// A lookup table, parameter "weight" [n, dim].
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t n, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids) const { return at::embedding(weight_, ids); }
  const at::Tensor& weight() const { return weight_; }

 private:
  at::Tensor weight_;
};
TORCH_MODULE(Embedding);

// LayerNorm ("weight", "bias"; none when not affine) or LLaMA's RMSNorm ("weight").
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(LlmNorm kind, int64_t dim, double eps, bool affine, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  LlmNorm kind_;
  int64_t dim_;
  double eps_;
  at::Tensor weight_, bias_;
};
TORCH_MODULE(Norm);

// Batch rows [row, row + count) whose KV cache slots are first_slot, first_slot + 1, ...: the
// attention reads them as one strided view of the cache. A decode batch in slot order with a
// few holes (slots held by requests in their first pass, or just freed) is a few runs; reading
// each run in place costs one small GEMM more per run, while gathering the batch's slots copies
// its whole live cache every layer (about as many bytes as the weights at batch 32).
struct SlotRun {
  int64_t first_slot = 0;
  int64_t row = 0;
  int64_t count = 0;
};

// What every layer's attention needs for one forward call, computed once per call by LlmModel.
// B = batch, T = new tokens per row, L = keys attended, H = heads.
struct AttentionPlan {
  at::Tensor rope_cos, rope_sin;  // [B, T, 1, head_dim] compute dtype (RoPE only)
  at::Tensor bias;                // float32 [B|1, H, 1, L] added to scores (ALiBi only)
  at::Tensor allowed;             // bool [B, 1, T, L]: query t may attend key j
  // Filled by CausalLm::Decode from `allowed` and `bias`, once per call rather than once per
  // layer: everything added to the scores, [B * Hkv, G * T, L] in the compute dtype (see
  // ScoreBias in the .cc).
  at::Tensor score_bias;
  // KV cache mode when cache != nullptr: the keys/values of the tokens with flat index (into
  // B*T) `stored` (undefined = all) are written to (write_slots, write_positions), then
  // attention reads positions [0, L) of the batch's slots: as `read_runs` when set (views, no
  // copy), else gathered through `read_slots` [B].
  KvCache* cache = nullptr;
  at::Tensor stored;
  at::Tensor write_slots, write_positions;  // [N] int64
  std::vector<SlotRun> read_runs;
  at::Tensor read_slots;
  std::vector<int64_t> row_slots;  // [B]: the slot of each row (DecodeAttention reads in place)
  // [B] when T == 1: the position each row's new token is written to (WriteDecodeKv).
  std::vector<int64_t> row_positions;
  int64_t n_keys = 0;
  // Without a cache, a call that continues earlier positions (LlmInput::past): each layer's keys
  // and values of those P positions, [B, Hkv, P, D], go before this call's own T; `allowed`
  // and `bias` then span P + T keys. Autograd flows through this call's positions only.
  const std::vector<at::Tensor>* past_keys = nullptr;
  const std::vector<at::Tensor>* past_values = nullptr;
  // When set (no cache), each layer appends its own keys and values, [B, Hkv, T, D] (after RoPE).
  std::vector<at::Tensor>* present_keys = nullptr;
  std::vector<at::Tensor>* present_values = nullptr;
};

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const LlmConfig& config, const LlmTensorNames& names,
                   const at::TensorOptions& options);
  // x [B, T, hidden] -> [B, T, hidden]. `layer` selects the KV cache layer.
  at::Tensor forward(const at::Tensor& x, const AttentionPlan& plan, int64_t layer) const;
  // Every projection's weight to int8 where Int8Quantizable (see LinearImpl::QuantizeInt8).
  void QuantizeInt8();

 private:
  at::Tensor Attention(const at::Tensor& x, const AttentionPlan& plan, int64_t layer) const;
  // q [B, T, H, D], keys/values [B, Hkv, L, D], score_bias [B * Hkv, G * T, L] ->
  // [B, T, H * D] (before o_proj), the probabilities in `dtype`.
  at::Tensor Attend(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                    const at::Tensor& score_bias, at::ScalarType dtype) const;
  at::Tensor Mlp(const at::Tensor& x) const;

  const LlmConfig config_;
  Norm attn_norm_{nullptr}, mlp_norm_{nullptr};
  Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, qkv_proj_{nullptr};
  Linear o_proj_{nullptr}, up_proj_{nullptr}, gate_proj_{nullptr}, down_proj_{nullptr};
  // q/k/v (and gate/up) weights live in one tensor each, their Linear parameters being views of
  // it: loading fills them by name, and a decode step runs one GEMM instead of three (two), which
  // matters because a decode step is bound by the number of ops more than by their size.
  at::Tensor qkv_weight_, qkv_bias_;          // [q_dim + 2 kv_dim, hidden], [..] or undefined
  at::Tensor gate_up_weight_, gate_up_bias_;  // [2 ffn, hidden]: gate rows, then up rows
  Int8Weight qkv_int8_, gate_up_int8_;        // defined: used instead of the dense tensors
};
TORCH_MODULE(DecoderLayer);

// The whole causal LM. Registered at the checkpoint root: decoder parts under `base` (e.g.
// "model.decoder"), lm_head at the root (absent when tied to the token embeddings).
class CausalLmImpl : public torch::nn::Module {
 public:
  CausalLmImpl(const LlmConfig& config, const LlmArch& arch, const std::string& base,
               const at::TensorOptions& options);

  // E[ids]: [B, T] int64 -> [B, T, embed_dim].
  at::Tensor EmbedTokens(const at::Tensor& ids) const { return embed_tokens_->forward(ids); }
  // Input embeddings [B, T, embed_dim] and positions [B, T] (int64, used by learned positions)
  // -> output of the last layer after the final norm (and OPT's project_out), [B, T, embed_dim].
  // When `hidden_states` is not null it receives HF's output_hidden_states: the embedding
  // output, each layer's output but the last, then the returned tensor (n_layers + 1 entries).
  // When `pre_norm` is not null it receives the last layer's output before the final norm
  // (and project_out), [B, T, hidden].
  at::Tensor Decode(const at::Tensor& inputs_embeds, const at::Tensor& positions,
                    const AttentionPlan& plan, std::vector<at::Tensor>* hidden_states,
                    at::Tensor* pre_norm = nullptr) const;
  // [.., embed_dim] -> [.., vocab]
  at::Tensor LmHead(const at::Tensor& hidden) const;
  // Weight-only int8 (int8_weight.h) for every linear layer and the LM head (a tied head gets
  // an int8 copy of the token table, which stays dense for the lookup). Norms, biases and
  // embeddings keep the compute dtype.
  void QuantizeInt8();

 private:
  const LlmConfig config_;
  Embedding embed_tokens_{nullptr}, embed_positions_{nullptr};
  Norm embed_norm_{nullptr}, final_norm_{nullptr};
  Linear project_in_{nullptr}, project_out_{nullptr}, lm_head_{nullptr};
  Int8Weight tied_head_int8_;
  std::vector<DecoderLayer> layers_;
};
TORCH_MODULE(CausalLm);

}  // namespace lmeye
