#include "model/vision/blip2_vision.h"

#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

torch::nn::LayerNorm MakeLayerNorm(const Blip2VisionConfig& config) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
}

// ClipMlp is transformers' Blip2MLP too (fc1, activation, fc2); only these fields are read.
ClipEncoderConfig MlpConfig(const Blip2VisionConfig& config) {
  return ClipEncoderConfig{config.hidden_size, config.intermediate_size, config.n_layers,
                           config.n_heads,     config.activation,        config.layer_norm_eps};
}

const Blip2PartSpec& VisionSpec() {
  static const Blip2PartSpec* const kSpec =
      new Blip2PartSpec{"BLIP-2 vision tower", "vision_model.", {"vision_model."}, nullptr};
  return *kSpec;
}

}  // namespace

Blip2VisionEmbeddingsImpl::Blip2VisionEmbeddingsImpl(const Blip2VisionConfig& config) {
  const int64_t d = config.hidden_size;
  class_embedding = register_parameter("class_embedding", at::zeros({1, 1, d}));
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config.n_channels, d, config.patch_size)
                            .stride(config.patch_size)
                            .bias(true)));
  position_embedding =
      register_parameter("position_embedding", at::zeros({1, config.n_positions(), d}));
}

at::Tensor Blip2VisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) {
  const int64_t batch = pixel_values.size(0);
  // [batch, hidden, grid, grid] -> [batch, n_patches, hidden]
  at::Tensor patches = patch_embedding(pixel_values).flatten(2).transpose(1, 2);
  at::Tensor cls = class_embedding.expand({batch, 1, -1});
  // The input size is checked to be image_size, so the sequence covers the whole table.
  return at::cat({cls, patches}, 1) + position_embedding;
}

Blip2VisionAttentionImpl::Blip2VisionAttentionImpl(const Blip2VisionConfig& config)
    : n_heads_(config.n_heads), head_dim_(config.head_dim()) {
  const int64_t d = config.hidden_size;
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(d, 3 * d).bias(false)));
  if (config.qkv_bias) {
    q_bias = register_parameter("q_bias", at::zeros({d}));
    v_bias = register_parameter("v_bias", at::zeros({d}));
  }
  projection = register_module("projection", torch::nn::Linear(d, d));
}

at::Tensor Blip2VisionAttentionImpl::forward(const at::Tensor& hidden) {
  const int64_t batch = hidden.size(0);
  const int64_t seq = hidden.size(1);
  // The checkpoint has no key bias: EVA's fused projection adds zeros there.
  at::Tensor bias;
  if (q_bias.defined()) bias = at::cat({q_bias, at::zeros_like(v_bias), v_bias});
  // [batch, seq, 3, heads, head_dim] -> [3, batch, heads, seq, head_dim]
  at::Tensor mixed = at::linear(hidden, qkv->weight, bias)
                         .reshape({batch, seq, 3, n_heads_, head_dim_})
                         .permute({2, 0, 3, 1, 4});
  at::Tensor q = mixed[0], k = mixed[1], v = mixed[2];
  // Unlike CLIP, transformers scales the scores after q k^T, not q before: the order changes
  // rounding, so it is kept.
  at::Tensor scores =
      at::matmul(q, k.transpose(-1, -2)) * std::pow(static_cast<double>(head_dim_), -0.5);
  at::Tensor probs = at::softmax(scores, -1);
  at::Tensor out = at::matmul(probs, v).permute({0, 2, 1, 3});  // [batch, seq, heads, head_dim]
  return projection(out.reshape({batch, seq, n_heads_ * head_dim_}));
}

Blip2VisionLayerImpl::Blip2VisionLayerImpl(const Blip2VisionConfig& config) {
  self_attn = register_module("self_attn", Blip2VisionAttention(config));
  layer_norm1 = register_module("layer_norm1", MakeLayerNorm(config));
  mlp = register_module("mlp", ClipMlp(MlpConfig(config)));
  layer_norm2 = register_module("layer_norm2", MakeLayerNorm(config));
}

at::Tensor Blip2VisionLayerImpl::forward(const at::Tensor& hidden) {
  at::Tensor h = self_attn(layer_norm1(hidden)) + hidden;
  return mlp(layer_norm2(h)) + h;
}

Blip2VisionEncoderImpl::Blip2VisionEncoderImpl(const Blip2VisionConfig& config) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.n_layers; ++i) layers->push_back(Blip2VisionLayer(config));
}

at::Tensor Blip2VisionEncoderImpl::forward(const at::Tensor& hidden) {
  at::Tensor h = hidden;
  for (const auto& layer : *layers) h = layer->as<Blip2VisionLayer>()->forward(h);
  return h;
}

Blip2VisionModelImpl::Blip2VisionModelImpl(const Blip2VisionConfig& config) {
  embeddings = register_module("embeddings", Blip2VisionEmbeddings(config));
  encoder = register_module("encoder", Blip2VisionEncoder(config));
  post_layernorm = register_module("post_layernorm", MakeLayerNorm(config));
}

Blip2VisionTower::Blip2VisionTower(const Blip2VisionConfig& config,
                                   const Blip2RuntimeOptions& options)
    : config_(config), options_(options), model_(config) {
  model_->eval();
}

absl::StatusOr<std::unique_ptr<Blip2VisionTower>> Blip2VisionTower::Load(
    const Blip2VisionConfig& config, const Checkpoint& ckpt, const Blip2RuntimeOptions& options) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  return GuardTorch(
      absl::StrCat("loading the BLIP-2 vision tower from ", ckpt.location()),
      [&]() -> absl::StatusOr<std::unique_ptr<Blip2VisionTower>> {
        std::unique_ptr<Blip2VisionTower> tower(new Blip2VisionTower(config, options));
        tower->model_->to(options.device);
        LMEYE_RETURN_IF_ERROR(LoadBlip2Part(*tower->model_, ckpt, VisionSpec(), options.dtype));
        return tower;
      });
}

absl::StatusOr<std::unique_ptr<Blip2VisionTower>> Blip2VisionTower::Load(
    const std::string& dir, const Blip2RuntimeOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(Blip2Config config, LoadBlip2Config(dir));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));
  return Load(config.vision, *ckpt, options);
}

absl::StatusOr<std::unique_ptr<Blip2VisionTower>> Blip2VisionTower::CreateRandom(
    const Blip2VisionConfig& config, const Blip2RuntimeOptions& options, uint64_t seed) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  if (!at::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError("BLIP-2 vision tower: compute dtype must be floating-point");
  }
  return GuardTorch(
      "creating a random BLIP-2 vision tower",
      [&]() -> absl::StatusOr<std::unique_ptr<Blip2VisionTower>> {
        std::unique_ptr<Blip2VisionTower> tower(new Blip2VisionTower(config, options));
        InitBlip2Random(*tower->model_, seed);
        tower->model_->to(options.device, options.dtype);
        return tower;
      });
}

absl::StatusOr<Blip2VisionOutput> Blip2VisionTower::Forward(const at::Tensor& pixel_values) const {
  if (!pixel_values.defined() || pixel_values.dim() != 4 || pixel_values.size(0) == 0 ||
      pixel_values.size(1) != config_.n_channels || pixel_values.size(2) != config_.image_size ||
      pixel_values.size(3) != config_.image_size ||
      !at::isFloatingType(pixel_values.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BLIP-2 vision tower: pixel_values must be a floating-point [batch >= 1, ",
        config_.n_channels, ", ", config_.image_size, ", ", config_.image_size, "] tensor, got ",
        pixel_values.defined() ? absl::StrCat("[", absl::StrJoin(pixel_values.sizes().vec(), ", "),
                                              "] ", c10::toString(pixel_values.scalar_type()))
                               : std::string("an undefined tensor")));
  }
  return GuardTorch("BLIP-2 vision tower forward", [&]() -> absl::StatusOr<Blip2VisionOutput> {
    torch::NoGradGuard no_grad;
    // The tower is logically const; libtorch's forward is not.
    Blip2VisionModelImpl& m = *model_.ptr();
    at::Tensor h = m.encoder(m.embeddings(pixel_values.to(options_.device, options_.dtype)));
    Blip2VisionOutput out;
    out.last_hidden_state = m.post_layernorm(h);
    out.pooler_output = m.post_layernorm(out.last_hidden_state.select(1, 0));
    return out;
  });
}

}  // namespace lmeye
