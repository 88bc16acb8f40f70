// The pre-layernorm transformer encoder of both CLIP towers (transformers' CLIPEncoder): the vision
// tower runs it with full attention, the text tower with a causal mask. Module and parameter names
// are the Hugging Face keys below `vision_model.encoder.` / `text_model.encoder.`
// (`layers.N.self_attn.q_proj.weight`, `layers.N.layer_norm1.bias`, `layers.N.mlp.fc1.weight`...).
//
// Numerics follow transformers 4.35 exactly: q is scaled by head_dim^-0.5 before q k^T, masked
// scores are set to the dtype's lowest value (not -inf, so a fully masked padding row stays
// finite), softmax in the compute dtype, no upcast.
//
// Modules are not thread-safe to mutate; forward is safe to call from one thread at a time per
// module (the scheduler thread owns the model, docs/STYLE.md 8).
#pragma once

#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "model/vision/clip_config.h"

namespace lmeye {

// Applies `activation` element-wise.
at::Tensor ApplyClipActivation(ClipActivation activation, const at::Tensor& x);

// [1, 1, seq, seq] bool, true where query i may attend to key j (j <= i).
at::Tensor ClipCausalMask(int64_t seq, const at::Device& device);

class ClipAttentionImpl : public torch::nn::Module {
 public:
  explicit ClipAttentionImpl(const ClipEncoderConfig& config);

  // hidden: [batch, seq, hidden]. allowed: bool broadcastable to [batch, n_heads, seq, seq]
  // (true = may attend), or undefined for full attention. Returns [batch, seq, hidden].
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& allowed);

  torch::nn::Linear k_proj{nullptr};
  torch::nn::Linear v_proj{nullptr};
  torch::nn::Linear q_proj{nullptr};
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t n_heads_;
  int64_t head_dim_;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
 public:
  explicit ClipMlpImpl(const ClipEncoderConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [batch, seq, hidden] -> same

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};

 private:
  ClipActivation activation_;
};
TORCH_MODULE(ClipMlp);

class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderLayerImpl(const ClipEncoderConfig& config);
  // x + attn(ln1(x)), then + mlp(ln2(.)). [batch, seq, hidden] -> same.
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& allowed);

  ClipAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr};
  ClipMlp mlp{nullptr};
  torch::nn::LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipEncoderImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderImpl(const ClipEncoderConfig& config);

  // hidden: [batch, seq, hidden], the input of layer 0. allowed: see ClipAttentionImpl.
  // When `hidden_states` is non-null it receives n_layers + 1 tensors, as transformers'
  // output_hidden_states: [0] = the input, [i] = the output of layer i - 1.
  // Returns the output of the last layer (no final norm), [batch, seq, hidden].
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& allowed,
                     std::vector<at::Tensor>* hidden_states = nullptr);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipEncoder);

}  // namespace lmeye
