#include "model/vision/clip_encoder.h"

#include <cmath>
#include <limits>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

namespace lmeye {
namespace {

torch::nn::LayerNorm MakeLayerNorm(const ClipEncoderConfig& config) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
}

// transformers fills masked scores with torch.finfo(dtype).min; -inf would turn a fully masked
// row (a padding query) into NaN.
double LowestValue(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kHalf:
      return static_cast<float>(std::numeric_limits<c10::Half>::lowest());
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}

}  // namespace

at::Tensor ApplyClipActivation(ClipActivation activation, const at::Tensor& x) {
  switch (activation) {
    case ClipActivation::kQuickGelu:
      return x * at::sigmoid(x * 1.702);
    case ClipActivation::kGelu:
      return at::gelu(x);
    case ClipActivation::kGeluTanh:
      return at::gelu(x, "tanh");
    case ClipActivation::kRelu:
      return at::relu(x);
  }
  return x;
}

at::Tensor ClipCausalMask(int64_t seq, const at::Device& device) {
  return at::ones({seq, seq}, at::TensorOptions().dtype(at::kBool).device(device))
      .tril()
      .view({1, 1, seq, seq});
}

ClipAttentionImpl::ClipAttentionImpl(const ClipEncoderConfig& config)
    : n_heads_(config.n_heads), head_dim_(config.head_dim()) {
  const int64_t d = config.hidden_size;
  // Registration order = the checkpoint's order in transformers (k, v, q, out).
  k_proj = register_module("k_proj", torch::nn::Linear(d, d));
  v_proj = register_module("v_proj", torch::nn::Linear(d, d));
  q_proj = register_module("q_proj", torch::nn::Linear(d, d));
  out_proj = register_module("out_proj", torch::nn::Linear(d, d));
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& allowed) {
  const int64_t batch = hidden.size(0);
  const int64_t seq = hidden.size(1);
  auto heads = [&](const at::Tensor& x) {  // [batch, seq, hidden] -> [batch, heads, seq, head_dim]
    return x.view({batch, seq, n_heads_, head_dim_}).transpose(1, 2);
  };
  // Scaling q before the product (not the scores after) is what transformers does; the order
  // changes rounding.
  at::Tensor q = heads(q_proj(hidden) * std::pow(static_cast<double>(head_dim_), -0.5));
  at::Tensor k = heads(k_proj(hidden));
  at::Tensor v = heads(v_proj(hidden));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2));  // [batch, heads, seq, seq]
  if (allowed.defined()) {
    scores = scores.masked_fill(allowed.logical_not(), LowestValue(scores.scalar_type()));
  }
  at::Tensor probs = at::softmax(scores, -1);
  at::Tensor out = at::matmul(probs, v);  // [batch, heads, seq, head_dim]
  out = out.transpose(1, 2).reshape({batch, seq, n_heads_ * head_dim_});
  return out_proj(out);
}

ClipMlpImpl::ClipMlpImpl(const ClipEncoderConfig& config) : activation_(config.activation) {
  fc1 = register_module("fc1", torch::nn::Linear(config.hidden_size, config.intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(config.intermediate_size, config.hidden_size));
}

at::Tensor ClipMlpImpl::forward(const at::Tensor& hidden) {
  return fc2(ApplyClipActivation(activation_, fc1(hidden)));
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipEncoderConfig& config) {
  self_attn = register_module("self_attn", ClipAttention(config));
  layer_norm1 = register_module("layer_norm1", MakeLayerNorm(config));
  mlp = register_module("mlp", ClipMlp(config));
  layer_norm2 = register_module("layer_norm2", MakeLayerNorm(config));
}

at::Tensor ClipEncoderLayerImpl::forward(const at::Tensor& hidden, const at::Tensor& allowed) {
  at::Tensor h = hidden + self_attn(layer_norm1(hidden), allowed);
  return h + mlp(layer_norm2(h));
}

ClipEncoderImpl::ClipEncoderImpl(const ClipEncoderConfig& config) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layers; ++i) layers->push_back(ClipEncoderLayer(config));
}

at::Tensor ClipEncoderImpl::forward(const at::Tensor& hidden, const at::Tensor& allowed,
                                    std::vector<at::Tensor>* hidden_states) {
  at::Tensor h = hidden;
  if (hidden_states != nullptr) hidden_states->push_back(h);
  for (const auto& layer : *layers) {
    h = layer->as<ClipEncoderLayer>()->forward(h, allowed);
    if (hidden_states != nullptr) hidden_states->push_back(h);
  }
  return h;
}

}  // namespace lmeye
