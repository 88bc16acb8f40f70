// The computation of the released LMEye v0 (docs/LINGCLOUD.md, "LMEye v0", steps 1-8) over the
// frozen towers and LLM, as the engine's phases need it:
//   ImagePosition   feat [B, clip] -> E[<img>] + imgLinear(feat) + embedding_img      [B, d_L]
//   FirstPassSlot   E[<img-d>] + embedding_imgd (every <img-d> row of the first pass)  [d_L]
//   Interact        feat, h (the final-norm LLM state at the first <img-d>) ->
//                   E[<img-d>] + imgd_prompt[k] + embedding_imgd, k < query_len     [B, Q, d_L]
// where imgd_prompt = imgdLinear(text_projection(CLIP text over
// [E_t(bos)+P_0, promptMlp(feat) as P rows, llm2clip(h), E_t(eos)+P_{P+2}]))).
//
// Which stored vector is `embedding_img` follows the release's loader by default (ambiguity 3:
// the stored embedding_imgd; LingcloudV0Config::embedding_img_from in adapter_config.h).
#pragma once

#include <cstdint>
#include <memory>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/lingcloud_v0_adapter.h"
#include "model/llm/llm_model.h"
#include "model/text/clip_text.h"

namespace lmeye {

// The intermediate values of one Interact, named as the fixtures' goldens.
struct LingcloudV0Trace {
  at::Tensor pre_query;          // [B, clip]       llm2clip(h)
  at::Tensor soft_prompt;        // [B, P, clip]    promptMlp(feat)
  at::Tensor clip_base_embeds;   // [P+3, clip]     E_t + P_t of [bos, "!" x (P+1), eos]
  at::Tensor clip_input;         // [B, P+3, clip]  the rows the text encoder reads
  at::Tensor clip_last_hidden;   // [B, P+3, clip]  after final_layer_norm
  at::Tensor clip_pooled;        // [B, clip]       the eos row
  at::Tensor clip_text_feature;  // [B, clip]       text_projection(pooled)
  at::Tensor imgd_prompt;        // [B, Q, d_L]     imgdLinear(text feature)
};

class LingcloudV0Ipn {
 public:
  // `text` must outlive it (`llm` is read here only). Checks the widths and ids against them.
  static absl::StatusOr<std::unique_ptr<LingcloudV0Ipn>> Create(LingcloudV0Adapter adapter,
                                                                const ClipTextTower* text,
                                                                const LlmModel* llm,
                                                                const LingcloudV0Config& options);

  const LingcloudV0Config& options() const { return options_; }
  LingcloudV0AdapterImpl& adapter() const { return net(); }
  // The module itself (shared), e.g. for another LingcloudV0Ipn with other options.
  LingcloudV0Adapter holder() const { return adapter_; }
  int64_t query_len() const { return adapter_->dims().query_len; }
  // The embedding_img actually used ([1, d_L]).
  at::Tensor EffectiveEmbeddingImg() const;

  absl::StatusOr<at::Tensor> ImagePosition(const at::Tensor& feat) const;
  absl::StatusOr<at::Tensor> FirstPassSlot() const;
  absl::StatusOr<at::Tensor> Interact(const at::Tensor& feat, const at::Tensor& h,
                                      LingcloudV0Trace* trace = nullptr) const;

 private:
  LingcloudV0Ipn(LingcloudV0Adapter adapter, const ClipTextTower* text,
                 const LingcloudV0Config& options)
      : adapter_(std::move(adapter)), text_(text), options_(options) {}
  // The module is logically const here; libtorch's forward is not.
  LingcloudV0AdapterImpl& net() const { return *adapter_.ptr(); }

  LingcloudV0Adapter adapter_;
  const ClipTextTower* text_;
  LingcloudV0Config options_;
  // Rows of the frozen tables every call adds to, looked up once: E[<img>], E[<img-d>] ([d_L])
  // and the CLIP text tower's E_t[bos], E_t[eos] ([2, clip]).
  at::Tensor img_row_, imgd_row_, clip_ends_;
};

}  // namespace lmeye
