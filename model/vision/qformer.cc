#include "model/vision/qformer.h"

#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/vision/clip_encoder.h"  // ApplyClipActivation

namespace lmeye {
namespace {

torch::nn::LayerNorm MakeLayerNorm(const Blip2QFormerConfig& config) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
}

// `qformer.encoder.layer.<N>.intermediate.*` and `.output.*`: the text-token feed-forward, present
// in released checkpoints, never used on the query path. (`.attention.output.` does not match:
// the rest after the layer number must start with these.)
bool IsTextFeedForward(absl::string_view key) {
  constexpr absl::string_view kLayers = "qformer.encoder.layer.";
  if (!absl::ConsumePrefix(&key, kLayers)) return false;
  const size_t dot = key.find('.');
  int64_t layer = 0;
  if (dot == absl::string_view::npos || !absl::SimpleAtoi(key.substr(0, dot), &layer)) {
    return false;
  }
  key.remove_prefix(dot + 1);
  return absl::StartsWith(key, "intermediate.") || absl::StartsWith(key, "output.");
}

const Blip2PartSpec& QFormerSpec() {
  static const Blip2PartSpec* const kSpec =
      new Blip2PartSpec{"BLIP-2 Q-Former", "", {"query_tokens", "qformer."}, IsTextFeedForward};
  return *kSpec;
}

}  // namespace

QFormerMultiHeadAttentionImpl::QFormerMultiHeadAttentionImpl(const Blip2QFormerConfig& config,
                                                             int64_t kv_width)
    : n_heads_(config.n_heads), head_dim_(config.head_dim()) {
  const int64_t d = config.hidden_size;
  query = register_module("query", torch::nn::Linear(d, d));
  key = register_module("key", torch::nn::Linear(kv_width, d));
  value = register_module("value", torch::nn::Linear(kv_width, d));
}

at::Tensor QFormerMultiHeadAttentionImpl::forward(const at::Tensor& hidden,
                                                  const at::Tensor& context) {
  const int64_t batch = hidden.size(0);
  auto heads = [&](const at::Tensor& x) {  // [batch, seq, hidden] -> [batch, heads, seq, head_dim]
    return x.view({batch, x.size(1), n_heads_, head_dim_}).permute({0, 2, 1, 3});
  };
  at::Tensor k = heads(key(context));
  at::Tensor v = heads(value(context));
  at::Tensor q = heads(query(hidden));
  // BERT divides the scores by sqrt(head_dim) (CLIP and EVA multiply): kept for the rounding.
  at::Tensor scores =
      at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim_));
  at::Tensor probs = at::softmax(scores, -1);
  at::Tensor out = at::matmul(probs, v).permute({0, 2, 1, 3}).contiguous();
  return out.view({batch, hidden.size(1), n_heads_ * head_dim_});
}

QFormerOutputImpl::QFormerOutputImpl(const Blip2QFormerConfig& config, int64_t in_width) {
  dense = register_module("dense", torch::nn::Linear(in_width, config.hidden_size));
  LayerNorm = register_module("LayerNorm", MakeLayerNorm(config));
}

at::Tensor QFormerOutputImpl::forward(const at::Tensor& hidden, const at::Tensor& residual) {
  return LayerNorm(dense(hidden) + residual);
}

QFormerAttentionImpl::QFormerAttentionImpl(const Blip2QFormerConfig& config, int64_t kv_width) {
  attention = register_module("attention", QFormerMultiHeadAttention(config, kv_width));
  output = register_module("output", QFormerOutput(config, config.hidden_size));
}

at::Tensor QFormerAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& context) {
  return output(attention(hidden, context), hidden);
}

QFormerIntermediateImpl::QFormerIntermediateImpl(const Blip2QFormerConfig& config)
    : activation_(config.activation) {
  dense = register_module("dense", torch::nn::Linear(config.hidden_size, config.intermediate_size));
}

at::Tensor QFormerIntermediateImpl::forward(const at::Tensor& hidden) {
  return ApplyClipActivation(activation_, dense(hidden));
}

QFormerLayerImpl::QFormerLayerImpl(const Blip2QFormerConfig& config, int64_t layer_idx) {
  attention = register_module("attention", QFormerAttention(config, config.hidden_size));
  if (config.has_cross_attention(layer_idx)) {
    crossattention =
        register_module("crossattention", QFormerAttention(config, config.encoder_hidden_size));
  }
  intermediate_query = register_module("intermediate_query", QFormerIntermediate(config));
  output_query = register_module("output_query", QFormerOutput(config, config.intermediate_size));
}

at::Tensor QFormerLayerImpl::forward(const at::Tensor& queries, const at::Tensor& image) {
  at::Tensor h = attention(queries, queries);
  if (!crossattention.is_empty()) h = crossattention(h, image);
  return output_query(intermediate_query(h), h);
}

QFormerEncoderImpl::QFormerEncoderImpl(const Blip2QFormerConfig& config) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layers; ++i) layer->push_back(QFormerLayer(config, i));
}

at::Tensor QFormerEncoderImpl::forward(const at::Tensor& queries, const at::Tensor& image) {
  at::Tensor h = queries;
  for (const auto& l : *layer) h = l->as<QFormerLayer>()->forward(h, image);
  return h;
}

QFormerModelImpl::QFormerModelImpl(const Blip2QFormerConfig& config) {
  layernorm = register_module("layernorm", MakeLayerNorm(config));
  encoder = register_module("encoder", QFormerEncoder(config));
}

at::Tensor QFormerModelImpl::forward(const at::Tensor& query_embeds, const at::Tensor& image) {
  return encoder(layernorm(query_embeds), image);
}

QFormerRootImpl::QFormerRootImpl(const Blip2QFormerConfig& config, int64_t n_query_tokens) {
  query_tokens =
      register_parameter("query_tokens", at::zeros({1, n_query_tokens, config.hidden_size}));
  qformer = register_module("qformer", QFormerModel(config));
}

namespace {

// The keys / values of cross-attention read the vision tower's width, whatever the nested config
// says: Blip2Config.__init__ overwrites encoder_hidden_size (ParseBlip2Config does too; this
// covers hand-built configs).
Blip2QFormerConfig WithVisionWidth(const Blip2Config& config) {
  Blip2QFormerConfig c = config.qformer;
  c.encoder_hidden_size = config.vision.hidden_size;
  return c;
}

}  // namespace

Blip2QFormer::Blip2QFormer(const Blip2Config& config, const Blip2RuntimeOptions& options)
    : config_(WithVisionWidth(config)),
      n_query_tokens_(config.n_query_tokens),
      options_(options),
      root_(config_, config.n_query_tokens) {
  root_->eval();
}

absl::StatusOr<std::unique_ptr<Blip2QFormer>> Blip2QFormer::Load(
    const Blip2Config& config, const Checkpoint& ckpt, const Blip2RuntimeOptions& options) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  return GuardTorch(
      absl::StrCat("loading the BLIP-2 Q-Former from ", ckpt.location()),
      [&]() -> absl::StatusOr<std::unique_ptr<Blip2QFormer>> {
        std::unique_ptr<Blip2QFormer> q(new Blip2QFormer(config, options));
        q->root_->to(options.device);
        LMEYE_RETURN_IF_ERROR(LoadBlip2Part(*q->root_, ckpt, QFormerSpec(), options.dtype));
        return q;
      });
}

absl::StatusOr<std::unique_ptr<Blip2QFormer>> Blip2QFormer::Load(
    const std::string& dir, const Blip2RuntimeOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(Blip2Config config, LoadBlip2Config(dir));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));
  return Load(config, *ckpt, options);
}

absl::StatusOr<std::unique_ptr<Blip2QFormer>> Blip2QFormer::CreateRandom(
    const Blip2Config& config, const Blip2RuntimeOptions& options, uint64_t seed) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  if (!at::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError("BLIP-2 Q-Former: compute dtype must be floating-point");
  }
  return GuardTorch("creating a random BLIP-2 Q-Former",
                    [&]() -> absl::StatusOr<std::unique_ptr<Blip2QFormer>> {
                      std::unique_ptr<Blip2QFormer> q(new Blip2QFormer(config, options));
                      InitBlip2Random(*q->root_, seed);
                      q->root_->to(options.device, options.dtype);
                      return q;
                    });
}

absl::StatusOr<at::Tensor> Blip2QFormer::Forward(const at::Tensor& image_embeds) const {
  if (!image_embeds.defined() || image_embeds.dim() != 3 || image_embeds.size(0) == 0 ||
      image_embeds.size(1) == 0 || image_embeds.size(2) != config_.encoder_hidden_size ||
      !at::isFloatingType(image_embeds.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BLIP-2 Q-Former: image_embeds must be a floating-point [batch >= 1, n >= 1, ",
        config_.encoder_hidden_size, "] tensor, got ",
        image_embeds.defined() ? absl::StrCat("[", absl::StrJoin(image_embeds.sizes().vec(), ", "),
                                              "] ", c10::toString(image_embeds.scalar_type()))
                               : std::string("an undefined tensor")));
  }
  return GuardTorch("BLIP-2 Q-Former forward", [&]() -> absl::StatusOr<at::Tensor> {
    torch::NoGradGuard no_grad;
    QFormerRootImpl& root = *root_.ptr();  // logically const, see Blip2VisionTower::Forward
    at::Tensor image = image_embeds.to(options_.device, options_.dtype);
    at::Tensor queries = root.query_tokens.expand({image.size(0), -1, -1});
    return root.qformer(queries, image);
  });
}

}  // namespace lmeye
