// An LMEye v0.1 model directory loaded (docs/LINGCLOUD.md, "LMEye v0.1"): the frozen BLIP-2
// Flan-T5 (vision tower, Q-Former and T5, all from one Blip2 directory), the frozen CLIP text tower
// the interaction runs through, and the released IPN:
//
//   DIR/adapter.json          layout "lingcloud-v0.1" (adapter_config.h)
//   DIR/adapter.safetensors   the release's `net` (lingcloud_v01_adapter.h), language_projection
//                             included: it replaces the Blip2 directory's own
//   DIR/<vision>/             the Blip2 directory (vision = llm = "blip2"), with the BLIP image
//                             processor's preprocessor_config.json and the T5 tokenizer
//   DIR/<text>/               CLIPModel (its text tower and text_projection)  default "clip"
//
// Ownership and threads: immutable after Load, except that libtorch modules are not meant for
// concurrent use: one thread (the engine's) calls it.
#pragma once

#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/ipn/lingcloud_v01_ipn.h"
#include "model/ipn/lmeye_load_options.h"
#include "model/ipn/model_dir.h"
#include "model/llm/t5_model.h"
#include "model/text/clip_text.h"
#include "model/vision/blip2_config.h"
#include "model/vision/blip2_vision.h"
#include "model/vision/qformer.h"

namespace lmeye {

class LingcloudV01Model {
 public:
  // INVALID_ARGUMENT (naming the file) for another layout or mismatched widths.
  static absl::StatusOr<std::unique_ptr<LingcloudV01Model>> Load(
      const std::string& dir, const LmeyeLoadOptions& options = {});
  // The same for a directory already opened.
  static absl::StatusOr<std::unique_ptr<LingcloudV01Model>> Load(
      const ModelDir& dir, const LmeyeLoadOptions& options = {});

  const ModelDir& dir() const { return dir_; }
  const Blip2Config& blip2_config() const { return blip2_config_; }
  const Blip2VisionTower& vision() const { return *vision_; }
  const Blip2QFormer& qformer() const { return *qformer_; }
  const T5Model& t5() const { return *t5_; }
  const ClipTextTower& text() const { return *text_; }
  const LingcloudV01Ipn& ipn() const { return *ipn_; }

  // pixel_values [B, 3, S, S] (BLIP-processed) -> the Q-Former's queries q [B, Q, H].
  absl::StatusOr<at::Tensor> ImageQueries(const at::Tensor& pixel_values) const;

 private:
  LingcloudV01Model() = default;

  ModelDir dir_{"", IpnAdapterConfig()};
  Blip2Config blip2_config_;
  std::unique_ptr<Blip2VisionTower> vision_;
  std::unique_ptr<Blip2QFormer> qformer_;
  std::unique_ptr<T5Model> t5_;
  std::unique_ptr<ClipTextTower> text_;
  std::unique_ptr<LingcloudV01Ipn> ipn_;
};

}  // namespace lmeye
