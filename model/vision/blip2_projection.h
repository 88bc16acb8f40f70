// BLIP-2's `language_projection`: the Linear [language width, Q-Former width] (with bias) that
// maps the Q-Former's query outputs into the language model's embedding space
// (language_model_inputs = language_projection(qformer last_hidden_state)).
//
// Its own file because its weights do not always come from the BLIP-2 checkpoint: LingCloud's
// LMEye v0.1 re-trains it and ships it in lmeye_checkpoint.pth (torch.save of
// {'net': {'module.language_projection.weight': ..., ...}}), which replaces the one in blip2/.
// Both sources load by name; the shapes are checked against the Blip2Config.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/io/checkpoint.h"
#include "model/io/torch_checkpoint.h"
#include "model/vision/blip2_config.h"
#include "model/vision/blip2_weights.h"

namespace lmeye {

class Blip2LanguageProjection {
 public:
  // `prefix`weight [language_hidden_size, qformer.hidden_size] and `prefix`bias from a
  // Hugging Face checkpoint (the BLIP-2 one: prefix "language_projection."). Only those two keys
  // are read. INVALID_ARGUMENT naming a missing or misshaped tensor.
  static absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> Load(
      const Blip2Config& config, const Checkpoint& ckpt, const Blip2RuntimeOptions& options = {},
      const std::string& prefix = "language_projection.");

  // The same from one dict of a torch.save file: LingCloud's lmeye_checkpoint.pth has the state
  // dict under top-level key "net" with DistributedDataParallel's "module." before every name,
  // which is dropped, so the names read are `prefix`weight / `prefix`bias. Only those two tensors
  // are copied out of the file (the optimizer state is skipped).
  static absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> LoadFromTorch(
      const Blip2Config& config, const TorchCheckpoint& pth,
      const Blip2RuntimeOptions& options = {}, absl::string_view entry = "net",
      const std::string& prefix = "language_projection.");
  // TorchCheckpoint::Open(path) + LoadFromTorch.
  static absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> LoadFromTorchFile(
      const Blip2Config& config, const std::string& path, const Blip2RuntimeOptions& options = {},
      absl::string_view entry = "net", const std::string& prefix = "language_projection.");

  // Random weights (InitBlip2Random(seed)) at `config`'s sizes, for benchmarks.
  static absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> CreateRandom(
      const Blip2Config& config, const Blip2RuntimeOptions& options, uint64_t seed);

  int64_t in_features() const { return in_; }    // Q-Former hidden_size
  int64_t out_features() const { return out_; }  // language model width

  // query_output: [..., in_features] (the Q-Former's [batch, Q, hidden]) -> [..., out_features],
  // in the compute dtype on the projection's device. INVALID_ARGUMENT for a wrong last dimension.
  absl::StatusOr<at::Tensor> Forward(const at::Tensor& query_output) const;

  torch::nn::Linear& module() { return linear_; }

 private:
  Blip2LanguageProjection(const Blip2Config& config, const Blip2RuntimeOptions& options);
  // Copies weight and bias (already shape-checked) in, converted; freezes them.
  void Assign(const at::Tensor& weight, const at::Tensor& bias);

  int64_t in_;
  int64_t out_;
  Blip2RuntimeOptions options_;
  torch::nn::Linear linear_;
};

}  // namespace lmeye
