#include "model/vision/clip_vision.h"

#include <optional>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/vision/clip_weights.h"

namespace lmeye {
namespace {

torch::nn::LayerNorm MakeLayerNorm(const ClipEncoderConfig& config) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
}

}  // namespace

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& config) {
  const int64_t d = config.encoder.hidden_size;
  class_embedding = register_parameter("class_embedding", at::zeros({d}));
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config.n_channels, d, config.patch_size)
                            .stride(config.patch_size)
                            .bias(false)));
  position_embedding =
      register_module("position_embedding", torch::nn::Embedding(config.n_positions(), d));
}

at::Tensor ClipVisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) {
  const int64_t batch = pixel_values.size(0);
  // [batch, hidden, grid, grid] -> [batch, n_patches, hidden]
  at::Tensor patches = patch_embedding(pixel_values).flatten(2).transpose(1, 2);
  at::Tensor cls = class_embedding.view({1, 1, -1}).expand({batch, 1, -1});
  // position_ids are always 0..positions-1, so the whole table is added.
  return at::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& config) {
  embeddings = register_module("embeddings", ClipVisionEmbeddings(config));
  pre_layrnorm = register_module("pre_layrnorm", MakeLayerNorm(config.encoder));
  encoder = register_module("encoder", ClipEncoder(config.encoder));
  post_layernorm = register_module("post_layernorm", MakeLayerNorm(config.encoder));
}

ClipVisionModelImpl::ClipVisionModelImpl(const ClipVisionConfig& config, bool with_projection) {
  vision_model = register_module("vision_model", ClipVisionTransformer(config));
  if (with_projection) {
    visual_projection = register_module(
        "visual_projection", torch::nn::Linear(torch::nn::LinearOptions(config.encoder.hidden_size,
                                                                        config.projection_dim)
                                                   .bias(false)));
  }
}

ClipVisionTower::ClipVisionTower(const ClipVisionConfig& config, const ClipRuntimeOptions& options,
                                 bool with_projection)
    : config_(config), options_(options), model_(config, with_projection) {
  model_->eval();
  model_->to(options.device);
}

absl::StatusOr<std::unique_ptr<ClipVisionTower>> ClipVisionTower::Load(
    const std::string& dir, const ClipRuntimeOptions& options) {
  return LoadClipTowerDir<ClipVisionTower>(dir, options);
}

absl::StatusOr<std::unique_ptr<ClipVisionTower>> ClipVisionTower::Load(
    const ClipConfig& config, const Checkpoint& ckpt, const ClipRuntimeOptions& options) {
  return LoadClipTower<ClipVisionTower>(
      kClipVisionKind, config.vision.has_value(), ckpt, options,
      [&](bool with_projection) {
        return std::unique_ptr<ClipVisionTower>(
            new ClipVisionTower(*config.vision, options, with_projection));
      },
      [](ClipVisionTower& tower) -> torch::nn::Module& { return *tower.model_; });
}

absl::StatusOr<ClipVisionOutput> ClipVisionTower::Forward(
    const at::Tensor& pixel_values, const ClipVisionForwardOptions& options) const {
  if (!pixel_values.defined() || pixel_values.dim() != 4 ||
      pixel_values.size(1) != config_.n_channels || pixel_values.size(2) != config_.image_size ||
      pixel_values.size(3) != config_.image_size ||
      !at::isFloatingType(pixel_values.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CLIP vision tower: pixel_values must be a floating-point [batch, ", config_.n_channels,
        ", ", config_.image_size, ", ", config_.image_size, "] tensor, got ",
        pixel_values.defined() ? absl::StrCat("[", absl::StrJoin(pixel_values.sizes().vec(), ", "),
                                              "] ", c10::toString(pixel_values.scalar_type()))
                               : std::string("an undefined tensor")));
  }
  return GuardTorch("CLIP vision tower forward", [&]() -> absl::StatusOr<ClipVisionOutput> {
    std::optional<torch::NoGradGuard> no_grad;
    if (!options.grad) no_grad.emplace();
    // The tower is logically const; libtorch's forward is not.
    ClipVisionModelImpl& model = *model_.ptr();
    ClipVisionTransformerImpl& vm = *model.vision_model;
    ClipVisionOutput out;
    at::Tensor pixels = pixel_values.to(options_.device, options_.dtype);
    out.embeddings = vm.embeddings(pixels);  // [batch, positions, hidden]
    at::Tensor h = vm.pre_layrnorm(out.embeddings);
    out.last_hidden_state =
        vm.encoder(h, at::Tensor(), options.output_hidden_states ? &out.hidden_states : nullptr);
    out.pooler_output = vm.post_layernorm(out.last_hidden_state.select(1, 0));  // [batch, hidden]
    if (has_projection()) out.image_embeds = model.visual_projection(out.pooler_output);
    return out;
  });
}

}  // namespace lmeye
