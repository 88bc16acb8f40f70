// An LMEye model directory loaded: the frozen CLIP towers and LLM, and the IPN adapter of the
// layout adapter.json names (this project's own, or the released LingCloud v0); or, for the
// released v0.1 on BLIP-2 Flan-T5, its own set of towers (lingcloud_v01(); then vision(), text(),
// llm() and the IPN calls below are not available: the encoder-decoder engine uses it directly).
//
//   DIR/adapter.json, DIR/adapter.safetensors
//   DIR/<vision>/ (CLIP: config.json, weights, preprocessor_config.json)   default "clip"
//   DIR/<text>/   (CLIP text tower; usually the same directory)            default "clip"
//   DIR/<llm>/    (OPT, BLOOM or LLaMA: config.json, weights, tokenizer)   default "llm"
//
// The IPN math is docs/DESIGN.md section 2 (the v0 layout's: docs/LINGCLOUD.md), batch-first.
// The engine uses the layout-neutral calls (ImagePosition, FirstPassSlot, InteractSlots,
// n_slot_positions); training and verification of the own layout use the rest. Every function here
// runs in the caller's grad mode (training backpropagates through the text tower and LLM into the
// adapter); the caller owns the thread (the engine's scheduler thread in serving).
#pragma once

#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/ipn/adapter.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/lingcloud_v01_model.h"
#include "model/ipn/lingcloud_v0_ipn.h"
#include "model/ipn/lmeye_load_options.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_model.h"
#include "model/text/clip_text.h"
#include "model/vision/clip_vision.h"

namespace lmeye {

// Intermediate values of one Interact call, for verification and debugging. [B, ...] each.
struct IpnTrace {
  at::Tensor h_R;                 // [B, d_t]
  at::Tensor h_f;                 // [B, K, d_t]
  at::Tensor interaction_input;   // [B, K+2, d_t], position embeddings included when enabled
  at::Tensor interaction_hidden;  // [B, K+2, d_t] after the final layer norm
  at::Tensor output_normed;       // [B, d_t]
  at::Tensor output;              // [B, d_o]: what transmit consumes
};

// What the interaction gives the second pass.
struct IpnSlotRows {
  at::Tensor rows;  // [B, n_slot_positions, d_L]: the embeddings of the <img-d> positions
  at::Tensor h_d;   // [B, d_L]: the own layout's transmitted vector (undefined for v0)
};

class LmeyeModel {
 public:
  static absl::StatusOr<std::unique_ptr<LmeyeModel>> Load(const std::string& dir,
                                                          const LmeyeLoadOptions& options = {});

  const IpnAdapterConfig& adapter_config() const { return dir_.adapter_config(); }
  // Where it was loaded from (paths of the backbones, the tokenizer, the preprocessor config).
  const ModelDir& dir() const { return dir_; }
  const IpnDims& dims() const { return dims_; }
  const ClipVisionTower& vision() const { return *vision_; }
  const ClipTextTower& text() const { return *text_; }
  const LlmModel& llm() const { return *llm_; }
  // Positions one sequence may reach: the LLM's learned position table (OPT), or 0 where the
  // family has no such bound (RoPE, ALiBi). Past it a step fails, so servers admit within it.
  int64_t max_sequence_positions() const;
  IpnAdapter& adapter() { return adapter_; }

  // --- Layout-neutral: what the engine calls ---
  // <img-d> positions the second pass fills: 1 for the own layout, query_len for v0.
  int n_slot_positions() const;
  // The image position's embedding: h_I [B, d_v] -> [B, d_L].
  absl::StatusOr<at::Tensor> ImagePosition(const at::Tensor& h_i);
  // The first <img-d> position's embedding in the first pass: [d_L].
  absl::StatusOr<at::Tensor> FirstPassSlot();
  // h_I [B, d_v] and h_r [B, d_L] (the LLM state at the first <img-d> of the first pass, after
  // the final norm unless first_pass_pre_norm()) -> the second pass's <img-d> rows.
  absl::StatusOr<IpnSlotRows> InteractSlots(const at::Tensor& h_i, const at::Tensor& h_r);
  // Whether h_r is the first pass's last layer before the final norm instead of after it (the
  // v0 option first_pass_hidden: pre_norm); the final-norm state otherwise.
  bool first_pass_pre_norm() const {
    return v0_ != nullptr && v0_->options().first_pass_pre_norm();
  }
  // The v0 computation, or null for the other layouts.
  const LingcloudV0Ipn* lingcloud_v0() const { return v0_.get(); }
  // Replaces the v0 options the model runs with (and adapter_config() states), keeping the
  // adapter's weights: e.g. training reads the stored embedding_img, as the release trained.
  // FailedPrecondition for the other layouts; the options' ids are checked as at load.
  absl::Status SetLingcloudV0Options(const LingcloudV0Config& options);
  // The v0.1 model (BLIP-2 Flan-T5 and its IPN), or null for the other layouts.
  const LingcloudV01Model* lingcloud_v01() const { return v01_.get(); }

  // --- The own layout ---
  // Step 1. pixel_values [B, 3, H, W] -> h_I [B, d_v] (pooled or projected per adapter.json;
  // always projected for v0).
  absl::StatusOr<at::Tensor> ImageFeature(const at::Tensor& pixel_values) const;
  // h_img = img_token + align(h_I): [B, d_v] -> [B, d_L].
  absl::StatusOr<at::Tensor> ImageToken(const at::Tensor& h_i);
  // <img-d> embedding of the first pass: [d_L].
  at::Tensor ImgdToken() { return adapter_->imgd_token; }

  // Steps 3-5. h_I [B, d_v] and h_r [B, d_L] (final-norm LLM output at the <img-d> position of
  // the first pass) -> h_d [B, d_L]. `trace` (optional) receives the intermediates.
  absl::StatusOr<at::Tensor> Interact(const at::Tensor& h_i, const at::Tensor& h_r,
                                      IpnTrace* trace = nullptr);
  // Step 6: the vector placed in the slot of the second pass, per adapter.json `combine`.
  at::Tensor Slot(const at::Tensor& h_d) {
    return adapter_->Slot(h_d, dir_.adapter_config().combine);
  }

 private:
  LmeyeModel() = default;
  // The v0 adapter and its computation, after the towers and LLM are loaded.
  absl::Status LoadLingcloudV0(const LmeyeLoadOptions& options);

  ModelDir dir_{"", IpnAdapterConfig()};
  IpnDims dims_;
  std::unique_ptr<ClipVisionTower> vision_;
  std::unique_ptr<ClipTextTower> text_;
  std::unique_ptr<LlmModel> llm_;
  IpnAdapter adapter_{nullptr};         // the own layout
  std::unique_ptr<LingcloudV0Ipn> v0_;  // layout lingcloud-v0
  std::unique_ptr<LingcloudV01Model> v01_;  // layout lingcloud-v0.1 (then no towers above)
};

}  // namespace lmeye
