#include "model/llm/t5_modules.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/io/module_loader.h"
#include "model/llm/small_batch_linear.h"

namespace lmeye {
namespace {

at::Tensor Activate(T5Activation activation, const at::Tensor& x) {
  switch (activation) {
    case T5Activation::kRelu:
      return at::relu(x);
    case T5Activation::kGelu:
      return at::gelu(x);
    case T5Activation::kGeluTanh:
      return at::gelu(x, "tanh");
    case T5Activation::kSilu:
      return at::silu(x);
  }
  return x;
}

}  // namespace

at::Tensor T5RelativePositionBucket(const at::Tensor& relative, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance) {
  at::Tensor buckets = at::zeros_like(relative);
  at::Tensor distance;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = (relative > 0).to(at::kLong) * num_buckets;
    distance = relative.abs();
  } else {
    distance = -at::min(relative, at::zeros_like(relative));
  }
  // Half the buckets are exact distances, the other half log-spaced up to max_distance, in
  // float32 exactly as HF computes them (a bucket boundary is where float32 rounding decides).
  const int64_t max_exact = num_buckets / 2;
  at::Tensor large = max_exact + (at::log(distance.to(at::kFloat) / max_exact) /
                                  std::log(static_cast<double>(max_distance) / max_exact) *
                                  (num_buckets - max_exact))
                                     .to(at::kLong);
  large = at::clamp_max(large, num_buckets - 1);
  return buckets + at::where(distance < max_exact, distance, large);
}

at::Tensor T5MaskBias(const at::Tensor& allowed, at::ScalarType dtype) {
  double lowest = static_cast<double>(std::numeric_limits<float>::lowest());
  if (dtype == at::kHalf) lowest = -65504.0;
  if (dtype == at::kBFloat16)
    lowest = static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
  if (dtype == at::kDouble) lowest = std::numeric_limits<double>::lowest();
  // HF: (1.0 - mask) * finfo(dtype).min, so an allowed key adds (-)0 and a masked one the min.
  return (1.0 - allowed.to(dtype)) * lowest;
}

T5LayerNormImpl::T5LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options)
    : eps_(eps) {
  weight_ = register_parameter("weight", at::empty({dim}, options), /*requires_grad=*/false);
}

at::Tensor T5LayerNormImpl::forward(const at::Tensor& x) const {
  at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor h = x * at::rsqrt(variance + eps_);
  // HF converts back only for half-precision weights; the product is float32 otherwise.
  if (weight_.scalar_type() == at::kHalf || weight_.scalar_type() == at::kBFloat16) {
    h = h.to(weight_.scalar_type());
  }
  return weight_ * h;
}

at::Tensor T5Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& bias) {
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2));  // [B, H, T, L], no 1/sqrt(D)
  scores = scores + bias;
  at::Tensor probs = at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type());
  at::Tensor out = at::matmul(probs, v);  // [B, H, T, D]
  return out.transpose(1, 2).reshape({q.size(0), q.size(2), q.size(1) * q.size(3)});
}

T5AttentionImpl::T5AttentionImpl(const T5Config& c, bool cross, bool relative_bias,
                                 const at::TensorOptions& options)
    : n_heads_(c.n_heads), d_kv_(c.d_kv), cross_(cross) {
  const int64_t inner = c.inner_dim(), d = c.d_model;
  auto rows = [&](int64_t first) {
    return Linear(fused_weight_.narrow(0, first, inner), at::Tensor());
  };
  if (cross) {
    q_ = register_module("q", Linear(d, inner, /*bias=*/false, options));
    fused_weight_ = at::empty({2 * inner, d}, options);
    k_ = register_module("k", rows(0));
    v_ = register_module("v", rows(inner));
  } else {
    fused_weight_ = at::empty({3 * inner, d}, options);
    q_ = register_module("q", rows(0));
    k_ = register_module("k", rows(inner));
    v_ = register_module("v", rows(2 * inner));
  }
  o_ = register_module("o", Linear(inner, d, /*bias=*/false, options));
  if (relative_bias) {
    relative_attention_bias_ =
        register_module("relative_attention_bias", Embedding(c.num_buckets, c.n_heads, options));
  }
}

std::vector<at::Tensor> T5AttentionImpl::QueryKeyValue(const at::Tensor& x) const {
  at::Tensor qkv = ApplyLinear(x, fused_weight_);  // [B, T, 3 * inner]
  return qkv.view({x.size(0), x.size(1), 3, n_heads_, d_kv_}).unbind(2);
}

at::Tensor T5AttentionImpl::Query(const at::Tensor& x) const {
  return q_->forward(x).view({x.size(0), x.size(1), n_heads_, d_kv_});
}

std::vector<at::Tensor> T5AttentionImpl::KeyValue(const at::Tensor& encoder) const {
  at::Tensor kv = ApplyLinear(encoder, fused_weight_);  // [B, Te, 2 * inner]
  return kv.view({encoder.size(0), encoder.size(1), 2, n_heads_, d_kv_}).unbind(2);
}

at::Tensor T5AttentionImpl::RelativeBias(const at::Tensor& buckets) const {
  return relative_attention_bias_->forward(buckets);
}

T5FeedForwardImpl::T5FeedForwardImpl(const T5Config& c, const at::TensorOptions& options)
    : activation_(c.activation), gated_(c.gated) {
  if (gated_) {
    wi_fused_ = at::empty({2 * c.d_ff, c.d_model}, options);
    wi_0_ = register_module("wi_0", Linear(wi_fused_.narrow(0, 0, c.d_ff), at::Tensor()));
    wi_1_ = register_module("wi_1", Linear(wi_fused_.narrow(0, c.d_ff, c.d_ff), at::Tensor()));
  } else {
    wi_ = register_module("wi", Linear(c.d_model, c.d_ff, /*bias=*/false, options));
  }
  wo_ = register_module("wo", Linear(c.d_ff, c.d_model, /*bias=*/false, options));
}

at::Tensor T5FeedForwardImpl::forward(const at::Tensor& x) const {
  if (!gated_) return wo_->forward(Activate(activation_, wi_->forward(x)));
  std::vector<at::Tensor> h = ApplyLinear(x, wi_fused_).chunk(2, -1);
  return wo_->forward(Activate(activation_, h[0]) * h[1]);
}

at::Tensor T5ClampFp16(const at::Tensor& x) {
  if (x.scalar_type() != at::kHalf || !at::isinf(x).any().item<bool>()) return x;
  const double limit = 65504.0 - 1000.0;
  return at::clamp(x, -limit, limit);
}

T5BlockImpl::T5BlockImpl(const T5Config& c, bool decoder, bool first,
                         const at::TensorOptions& options)
    : decoder_(decoder) {
  self_attention_ = RegisterAt(*this, "layer.0.SelfAttention",
                               T5Attention(c, /*cross=*/false, /*relative_bias=*/first, options));
  self_norm_ = RegisterAt(*this, "layer.0.layer_norm", T5LayerNorm(c.d_model, c.norm_eps, options));
  std::string ff = "layer.1";
  if (decoder) {
    cross_attention_ = RegisterAt(*this, "layer.1.EncDecAttention",
                                  T5Attention(c, /*cross=*/true, /*relative_bias=*/false, options));
    cross_norm_ =
        RegisterAt(*this, "layer.1.layer_norm", T5LayerNorm(c.d_model, c.norm_eps, options));
    ff = "layer.2";
  }
  ff_ = RegisterAt(*this, ff + ".DenseReluDense", T5FeedForward(c, options));
  ff_norm_ = RegisterAt(*this, ff + ".layer_norm", T5LayerNorm(c.d_model, c.norm_eps, options));
}

at::Tensor T5BlockImpl::FeedForward(const at::Tensor& x) const {
  return T5ClampFp16(x + ff_->forward(ff_norm_->forward(x)));
}

at::Tensor T5BlockImpl::forward(const at::Tensor& x, const at::Tensor& self_bias,
                                const at::Tensor& encoder, const at::Tensor& cross_bias) const {
  auto t = [](const at::Tensor& a) { return a.transpose(1, 2); };  // [B, T, H, D] -> [B, H, T, D]
  std::vector<at::Tensor> qkv = self_attention_->QueryKeyValue(self_norm_->forward(x));
  at::Tensor h = x + self_attention_->Out(T5Attend(t(qkv[0]), t(qkv[1]), t(qkv[2]), self_bias));
  h = T5ClampFp16(h);
  if (decoder_) {
    at::Tensor q = cross_attention_->Query(cross_norm_->forward(h));
    std::vector<at::Tensor> kv = cross_attention_->KeyValue(encoder);
    h = h + cross_attention_->Out(T5Attend(t(q), t(kv[0]), t(kv[1]), cross_bias));
    h = T5ClampFp16(h);
  }
  return FeedForward(h);
}

T5StackImpl::T5StackImpl(const T5Config& c, bool decoder, const at::TensorOptions& options)
    : decoder_(decoder), num_buckets_(c.num_buckets), max_distance_(c.max_distance) {
  const int64_t n = decoder ? c.n_decoder_layers : c.n_layers;
  for (int64_t i = 0; i < n; ++i) {
    blocks_.push_back(RegisterAt(*this, absl::StrCat("block.", i),
                                 T5Block(c, decoder, /*first=*/i == 0, options)));
  }
  final_layer_norm_ =
      register_module("final_layer_norm", T5LayerNorm(c.d_model, c.norm_eps, options));
}

at::Tensor T5StackImpl::PositionBias(const at::Tensor& relative) const {
  at::Tensor buckets =
      T5RelativePositionBucket(relative, /*bidirectional=*/!decoder_, num_buckets_, max_distance_);
  return blocks_.front()->self_attention()->RelativeBias(buckets);
}

T5TreeImpl::T5TreeImpl(const T5Config& c, const at::TensorOptions& options) : config_(c) {
  shared_ = register_module("shared", Embedding(c.vocab_size, c.d_model, options));
  encoder_ = register_module("encoder", T5Stack(c, /*decoder=*/false, options));
  decoder_ = register_module("decoder", T5Stack(c, /*decoder=*/true, options));
  if (!c.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", Linear(c.d_model, c.vocab_size, /*bias=*/false, options));
  }
}

at::Tensor T5TreeImpl::LmHead(const at::Tensor& hidden) const {
  if (lm_head_) return lm_head_->forward(hidden);
  // Mesh TensorFlow's rescaling before a tied output projection (HF does the same).
  return ApplyLinear(hidden * std::pow(static_cast<double>(config_.d_model), -0.5),
                     shared_->weight());
}

}  // namespace lmeye
