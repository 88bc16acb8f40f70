#include "model/llm/llm_modules.h"

#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_split.h"
#include "model/io/module_loader.h"
#include "model/llm/cpu_norm_rope.h"
#include "model/llm/decode_attention.h"
#include "model/llm/family_ops.h"

namespace lmeye {
namespace {

// Everything added to the attention scores, built once per call instead of in every layer
// (on CPU and GPU alike the per-op cost of a decode step is what bounds it): 0 where query t may
// attend key j and a large negative value where it may not (causal and padding mask), plus
// ALiBi's bias. [B * Hkv, G * T, L] in the compute dtype: the layout of the scores GEMM, whose
// rows are the query heads grouped by KV head, so each layer's scores are one baddbmm.
//
// The masked value is half the dtype's lowest: adding any finite score then neither overflows
// to -inf nor survives rounding, so a query with every key masked (a padding position) gets
// uniform weights, as HF's finfo.min gives, instead of NaN; unmasked scores get + 0, exactly.
at::Tensor ScoreBias(const AttentionPlan& plan, const LlmConfig& c, at::ScalarType dtype) {
  const int64_t B = plan.allowed.size(0), T = plan.allowed.size(2), L = plan.allowed.size(3);
  const int64_t H = c.n_heads, Hkv = c.n_kv_heads, G = H / Hkv;
  const double masked = dtype == at::kHalf
                            ? -65504.0 / 2
                            : static_cast<double>(std::numeric_limits<float>::lowest()) / 2;
  at::Tensor mask = at::zeros({B, 1, T, L}, plan.allowed.options().dtype(dtype))
                        .masked_fill_(plan.allowed.logical_not(), masked);  // [B, 1, T, L]
  if (plan.bias.defined()) {  // ALiBi, [B|1, H, 1, L] float32; no grouped heads (G == 1)
    return (plan.bias.to(dtype) + mask).expand({B, H, T, L}).reshape({B * H, T, L});
  }
  return mask.unsqueeze(2).expand({B, Hkv, G, T, L}).reshape({B * Hkv, G * T, L});
}

// 1/sqrt(head_dim), the scale of q.k.
double AttentionScale(int64_t head_dim) { return 1.0 / std::sqrt(static_cast<double>(head_dim)); }

std::string Under(const std::string& base, const std::string& name) {
  return base.empty() ? name : base + "." + name;
}

at::Tensor Activate(LlmActivation activation, const at::Tensor& x) {
  switch (activation) {
    case LlmActivation::kRelu:
      return at::relu(x);
    case LlmActivation::kGelu:
      return at::gelu(x);
    case LlmActivation::kGeluTanh:
      return at::gelu(x, "tanh");
    case LlmActivation::kBloomGelu:
      return BloomGelu(x);
    case LlmActivation::kSilu:
      return at::silu(x);
  }
  return x;
}

}  // namespace

LinearImpl::LinearImpl(int64_t in, int64_t out, bool bias, const at::TensorOptions& options) {
  weight_ = register_parameter("weight", at::empty({out, in}, options), /*requires_grad=*/false);
  if (bias) bias_ = register_parameter("bias", at::empty({out}, options), /*requires_grad=*/false);
}

LinearImpl::LinearImpl(const at::Tensor& weight, const at::Tensor& bias) {
  weight_ = register_parameter("weight", weight, /*requires_grad=*/false);
  if (bias.defined()) bias_ = register_parameter("bias", bias, /*requires_grad=*/false);
}

bool LinearImpl::QuantizeInt8() {
  if (!Int8Quantizable(weight_)) return false;
  int8_ = lmeye::QuantizeInt8(weight_);
  ReleaseWeight();
  return true;
}

void LinearImpl::ReleaseWeight() {
  // The parameter keeps its name (TensorNames lists it) with no elements.
  weight_ = at::empty({0}, weight_.options());
  parameters_["weight"] = weight_;
}

EmbeddingImpl::EmbeddingImpl(int64_t n, int64_t dim, const at::TensorOptions& options) {
  weight_ = register_parameter("weight", at::empty({n, dim}, options), /*requires_grad=*/false);
}

NormImpl::NormImpl(LlmNorm kind, int64_t dim, double eps, bool affine,
                   const at::TensorOptions& options)
    : kind_(kind), dim_(dim), eps_(eps) {
  if (affine) weight_ = register_parameter("weight", at::empty({dim}, options), false);
  if (affine && kind == LlmNorm::kLayerNorm) {
    bias_ = register_parameter("bias", at::empty({dim}, options), false);
  }
}

at::Tensor NormImpl::forward(const at::Tensor& x) const {
  if (kind_ == LlmNorm::kLayerNorm) {
    // libtorch 1.13's CPU LayerNorm kernel is 4x slower in bf16 than in float32 (0.10 vs
    // 0.025 ms on a decode batch of 32 x 768, casts included; a decode step runs 2 per layer).
    // Statistics are float32 either way; the float path rounds once, at the end.
    if (x.device().is_cpu() && x.scalar_type() != at::kFloat) {
      auto to_float = [](const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; };
      return at::layer_norm(x.to(at::kFloat), {dim_}, to_float(weight_), to_float(bias_), eps_)
          .to(x.scalar_type());
    }
    return at::layer_norm(x, {dim_}, weight_, bias_, eps_);
  }
  // LlamaRMSNorm: statistics in float32 whatever the compute dtype, scaled back before the
  // weight multiplies (the order matters for bf16).
  if (CpuRmsNormSupported(x, weight_)) return CpuRmsNorm(x, weight_, eps_);
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight_ * h.to(x.scalar_type());
}

DecoderLayerImpl::DecoderLayerImpl(const LlmConfig& c, const LlmTensorNames& n,
                                   const at::TensorOptions& options)
    : config_(c) {
  const int64_t h = c.hidden_size, q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  attn_norm_ = RegisterAt(*this, n.attn_norm, Norm(c.norm, h, c.norm_eps, c.norm_affine, options));
  if (c.fused_qkv) {
    qkv_proj_ = RegisterAt(*this, n.qkv_proj, Linear(h, 3 * q_dim, c.attn_bias, options));
  } else {
    qkv_weight_ = at::empty({q_dim + 2 * kv_dim, h}, options);
    if (c.attn_bias) qkv_bias_ = at::empty({q_dim + 2 * kv_dim}, options);
    auto rows = [&](int64_t first, int64_t n_rows) {
      return Linear(qkv_weight_.narrow(0, first, n_rows),
                    c.attn_bias ? qkv_bias_.narrow(0, first, n_rows) : at::Tensor());
    };
    q_proj_ = RegisterAt(*this, n.q_proj, rows(0, q_dim));
    k_proj_ = RegisterAt(*this, n.k_proj, rows(q_dim, kv_dim));
    v_proj_ = RegisterAt(*this, n.v_proj, rows(q_dim + kv_dim, kv_dim));
  }
  o_proj_ = RegisterAt(*this, n.o_proj, Linear(q_dim, h, c.attn_bias, options));
  mlp_norm_ = RegisterAt(*this, n.mlp_norm, Norm(c.norm, h, c.norm_eps, c.norm_affine, options));
  if (c.gated_mlp) {
    gate_up_weight_ = at::empty({2 * c.ffn_dim, h}, options);
    if (c.mlp_bias) gate_up_bias_ = at::empty({2 * c.ffn_dim}, options);
    auto rows = [&](int64_t first) {
      return Linear(gate_up_weight_.narrow(0, first, c.ffn_dim),
                    c.mlp_bias ? gate_up_bias_.narrow(0, first, c.ffn_dim) : at::Tensor());
    };
    gate_proj_ = RegisterAt(*this, n.gate_proj, rows(0));
    up_proj_ = RegisterAt(*this, n.up_proj, rows(c.ffn_dim));
  } else {
    up_proj_ = RegisterAt(*this, n.up_proj, Linear(h, c.ffn_dim, c.mlp_bias, options));
  }
  down_proj_ = RegisterAt(*this, n.down_proj, Linear(c.ffn_dim, h, c.mlp_bias, options));
}

void DecoderLayerImpl::QuantizeInt8() {
  // The fused q/k/v (gate/up) tensor is what the forward multiplies by; the per-projection
  // parameters are views of it and are released with it.
  if (qkv_weight_.defined() && Int8Quantizable(qkv_weight_)) {
    qkv_int8_ = lmeye::QuantizeInt8(qkv_weight_);
    for (Linear* l : {&q_proj_, &k_proj_, &v_proj_}) (*l)->ReleaseWeight();
    qkv_weight_ = at::Tensor();
  }
  if (gate_up_weight_.defined() && Int8Quantizable(gate_up_weight_)) {
    gate_up_int8_ = lmeye::QuantizeInt8(gate_up_weight_);
    for (Linear* l : {&gate_proj_, &up_proj_}) (*l)->ReleaseWeight();
    gate_up_weight_ = at::Tensor();
  }
  for (Linear* l : {&qkv_proj_, &o_proj_, &down_proj_}) {
    if (*l) (*l)->QuantizeInt8();
  }
  if (up_proj_ && !config_.gated_mlp) up_proj_->QuantizeInt8();
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const AttentionPlan& plan,
                                     int64_t layer) const {
  // Pre-norm everywhere except OPT-350m (do_layer_norm_before = false); BLOOM's
  // apply_residual_connection_post_layernorm makes the residual branch start after the norm.
  at::Tensor h = config_.norm_before ? attn_norm_->forward(x) : x;
  at::Tensor residual = config_.residual_post_norm ? h : x;
  at::Tensor out = residual + Attention(h, plan, layer);
  if (!config_.norm_before) out = attn_norm_->forward(out);
  h = config_.norm_before ? mlp_norm_->forward(out) : out;
  residual = config_.residual_post_norm ? h : out;
  out = residual + Mlp(h);
  if (!config_.norm_before) out = mlp_norm_->forward(out);
  return out;
}

at::Tensor DecoderLayerImpl::Mlp(const at::Tensor& x) const {
  if (config_.gated_mlp) {
    at::Tensor gate_up = gate_up_int8_.defined()
                             ? ApplyLinear(x, gate_up_int8_, gate_up_bias_)
                             : ApplyLinear(x, gate_up_weight_, gate_up_bias_);  // [.., 2 ffn]
    const int64_t ffn = config_.ffn_dim;
    return down_proj_->forward(Activate(config_.activation, gate_up.narrow(-1, 0, ffn)) *
                               gate_up.narrow(-1, ffn, ffn));
  }
  return down_proj_->forward(Activate(config_.activation, up_proj_->forward(x)));
}

at::Tensor DecoderLayerImpl::Attention(const at::Tensor& x, const AttentionPlan& plan,
                                       int64_t layer) const {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = config_.n_heads, Hkv = config_.n_kv_heads, D = config_.head_dim;
  at::Tensor q, k, v;  // [B, T, heads, D]
  if (config_.fused_qkv) {
    SplitFusedQkv(qkv_proj_->forward(x), H, D, &q, &k, &v);
  } else {
    at::Tensor qkv = qkv_int8_.defined()
                         ? ApplyLinear(x, qkv_int8_, qkv_bias_)
                         : ApplyLinear(x, qkv_weight_, qkv_bias_);  // [B, T, (H + 2 Hkv) D]
    q = qkv.narrow(2, 0, H * D).view({B, T, H, D});
    k = qkv.narrow(2, H * D, Hkv * D).view({B, T, Hkv, D});
    v = qkv.narrow(2, (H + Hkv) * D, Hkv * D).view({B, T, Hkv, D});
  }
  if (config_.positions == LlmPositions::kRope) {
    q = ApplyRope(q, plan.rope_cos, plan.rope_sin);
    k = ApplyRope(k, plan.rope_cos, plan.rope_sin);
  }
  at::Tensor keys, values;  // [B, Hkv, L, D]
  if (plan.cache != nullptr) {
    at::Tensor k_new = k.reshape({B * T, Hkv, D});
    at::Tensor v_new = v.reshape({B * T, Hkv, D});
    if (plan.stored.defined()) {
      k_new = k_new.index_select(0, plan.stored);
      v_new = v_new.index_select(0, plan.stored);
    }
    using at::indexing::Slice;
    at::Tensor& k_cache = plan.cache->keys(static_cast<int>(layer));
    at::Tensor& v_cache = plan.cache->values(static_cast<int>(layer));
    if (T == 1 && !plan.row_positions.empty() && DecodeAttentionSupported(q, k_cache, v_cache)) {
      WriteDecodeKv(k_cache, v_cache, plan.row_slots, plan.row_positions, k_new, v_new);
      return o_proj_->forward(DecodeAttention(q, k_cache, v_cache, plan.row_slots, plan.score_bias,
                                              plan.n_keys, AttentionScale(D)));
    }
    k_cache.index_put_({plan.write_slots, Slice(), plan.write_positions}, k_new);
    v_cache.index_put_({plan.write_slots, Slice(), plan.write_positions}, v_new);
    if (plan.read_runs.size() == 1) {
      keys = k_cache.narrow(0, plan.read_runs[0].first_slot, B).narrow(2, 0, plan.n_keys);
      values = v_cache.narrow(0, plan.read_runs[0].first_slot, B).narrow(2, 0, plan.n_keys);
    } else if (!plan.read_runs.empty()) {
      std::vector<at::Tensor> outs;
      for (const SlotRun& run : plan.read_runs) {
        at::Tensor k_run = k_cache.narrow(0, run.first_slot, run.count).narrow(2, 0, plan.n_keys);
        at::Tensor v_run = v_cache.narrow(0, run.first_slot, run.count).narrow(2, 0, plan.n_keys);
        outs.push_back(Attend(q.narrow(0, run.row, run.count), k_run, v_run,
                              plan.score_bias.narrow(0, run.row * Hkv, run.count * Hkv),
                              x.scalar_type()));
      }
      return o_proj_->forward(at::cat(outs, 0));
    } else {
      keys = k_cache.narrow(2, 0, plan.n_keys).index_select(0, plan.read_slots);
      values = v_cache.narrow(2, 0, plan.n_keys).index_select(0, plan.read_slots);
    }
  } else {
    keys = k.transpose(1, 2);
    values = v.transpose(1, 2);
    if (plan.present_keys != nullptr) {
      plan.present_keys->push_back(keys);
      plan.present_values->push_back(values);
    }
    if (plan.past_keys != nullptr) {
      keys = at::cat({(*plan.past_keys)[layer], keys}, 2);
      values = at::cat({(*plan.past_values)[layer], values}, 2);
    }
  }
  return o_proj_->forward(Attend(q, keys, values, plan.score_bias, x.scalar_type()));
}

at::Tensor DecoderLayerImpl::Attend(const at::Tensor& q, const at::Tensor& keys,
                                    const at::Tensor& values, const at::Tensor& score_bias,
                                    at::ScalarType dtype) const {
  const int64_t B = q.size(0), T = q.size(1);
  const int64_t H = config_.n_heads, Hkv = config_.n_kv_heads, D = config_.head_dim;
  const int64_t G = H / Hkv;  // query heads per KV head (grouped-query attention)
  const int64_t L = keys.size(2);
  // Query heads grouped by their KV head: [B * Hkv, G*T, D], so GQA needs no copy of the keys.
  // The 1/sqrt(D) scale rides in the GEMM (alpha). HF's OPT scales q before the product instead;
  // the results differ by float rounding only (goldens within 1e-5), and a decode step saves one
  // op per layer.
  const double alpha = AttentionScale(D);
  at::Tensor scores = at::baddbmm(score_bias, q.transpose(1, 2).reshape({B * Hkv, G * T, D}),
                                  keys.reshape({B * Hkv, L, D}).transpose(1, 2), 1.0, alpha);
  // Softmax in float32 whatever the compute dtype (HF upcasts too).
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(dtype);
  at::Tensor out = at::matmul(probs.view({B, Hkv, G * T, L}), values);  // [B, Hkv, G*T, D]
  return out.view({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});
}

CausalLmImpl::CausalLmImpl(const LlmConfig& c, const LlmArch& arch, const std::string& base,
                           const at::TensorOptions& options)
    : config_(c) {
  const LlmTensorNames& n = arch.tensors;
  embed_tokens_ =
      RegisterAt(*this, Under(base, n.embed_tokens), Embedding(c.vocab_size, c.embed_dim, options));
  if (c.positions == LlmPositions::kLearned) {
    embed_positions_ =
        RegisterAt(*this, Under(base, n.embed_positions),
                   Embedding(c.max_positions + kOptPositionOffset, c.hidden_size, options));
  }
  if (c.embed_dim != c.hidden_size) {
    project_in_ = RegisterAt(*this, Under(base, n.project_in),
                             Linear(c.embed_dim, c.hidden_size, /*bias=*/false, options));
    project_out_ = RegisterAt(*this, Under(base, n.project_out),
                              Linear(c.hidden_size, c.embed_dim, /*bias=*/false, options));
  }
  if (c.embed_norm) {
    embed_norm_ = RegisterAt(*this, Under(base, n.embed_norm),
                             Norm(LlmNorm::kLayerNorm, c.hidden_size, c.norm_eps, true, options));
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    layers_.push_back(
        RegisterAt(*this, Under(base, LayerPath(n.layer, l)), DecoderLayer(c, n, options)));
  }
  if (c.final_norm) {
    final_norm_ = RegisterAt(*this, Under(base, n.final_norm),
                             Norm(c.norm, c.hidden_size, c.norm_eps, c.norm_affine, options));
  }
  if (!c.tie_word_embeddings) {
    lm_head_ = RegisterAt(*this, n.lm_head, Linear(c.embed_dim, c.vocab_size, false, options));
  }
}

at::Tensor CausalLmImpl::Decode(const at::Tensor& inputs_embeds, const at::Tensor& positions,
                                const AttentionPlan& plan, std::vector<at::Tensor>* hidden_states,
                                at::Tensor* pre_norm) const {
  at::Tensor x = inputs_embeds;
  if (project_in_) x = project_in_->forward(x);
  if (embed_positions_) x = x + embed_positions_->forward(positions + kOptPositionOffset);
  if (embed_norm_) x = embed_norm_->forward(x);
  AttentionPlan layer_plan = plan;
  layer_plan.score_bias = ScoreBias(plan, config_, x.scalar_type());
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (hidden_states != nullptr) hidden_states->push_back(x);
    x = layers_[l]->forward(x, layer_plan, static_cast<int64_t>(l));
  }
  if (pre_norm != nullptr) *pre_norm = x;
  if (final_norm_) x = final_norm_->forward(x);
  if (project_out_) x = project_out_->forward(x);
  if (hidden_states != nullptr) hidden_states->push_back(x);
  return x;
}

at::Tensor CausalLmImpl::LmHead(const at::Tensor& hidden) const {
  if (lm_head_) return lm_head_->forward(hidden);
  if (tied_head_int8_.defined()) return ApplyLinear(hidden, tied_head_int8_);
  return ApplyLinear(hidden, embed_tokens_->weight());
}

void CausalLmImpl::QuantizeInt8() {
  for (DecoderLayer& layer : layers_) layer->QuantizeInt8();
  for (Linear* l : {&project_in_, &project_out_, &lm_head_}) {
    if (*l) (*l)->QuantizeInt8();
  }
  if (!lm_head_ && Int8Quantizable(embed_tokens_->weight())) {
    tied_head_int8_ = lmeye::QuantizeInt8(embed_tokens_->weight());
  }
}

}  // namespace lmeye
