// The computation of the released LMEye v0.1 (docs/LINGCLOUD.md, "LMEye v0.1", steps 2-5) between
// the frozen BLIP-2 towers, the CLIP text tower and T5, as batch-first calls:
//   LanguageInputs   Q-Former queries q [B, Q, H] -> language_projection(q)            [B, Q, d]
//   FirstPassInputs  [language inputs, shared[ids]] with instruction_embedding_imgd added at the
//                    <img-d> rows and instruction_embedding_imgq at the <img-q> row   [B, Q+L, d]
//   ImgqRows         where each row's <img-q> sits in those inputs (the request's row)
//   Interact         q and the first encoder pass at <img-q> -> imgd_prompt           [B, n, d]:
//                    instruction_imgdLinear(text_projection(CLIP text over
//                    [E_t(bos)+P_0, instruction_linear(q), instruction_blip22clip(h).view(n, W),
//                     E_t(eos)+P_{Q+n+1}])[rows]))
//   SecondPassInputs the first pass's inputs with imgd_prompt[k] added at the k-th <img-d> row
// `rows` are the last n interaction rows as released (LingcloudV01Config::clip_rows).
// T5 (both encoder passes and the decoder) runs outside, so that the engine batches it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/lingcloud_v01_adapter.h"
#include "model/text/clip_text.h"

namespace lmeye {

// The intermediate values of one Interact, named as the fixture's goldens.
struct LingcloudV01Trace {
  at::Tensor pre_query;            // [B, n, W]        instruction_blip22clip(h).view(n, W)
  at::Tensor query_output_linear;  // [B, Q, W]        instruction_linear(q)
  at::Tensor clip_hidden_states;   // [B, Q+n+2, W]    the rows the text encoder reads
  at::Tensor clip_last_hidden;     // [B, Q+n+2, W]    after final_layer_norm
  at::Tensor clip_text_feature;    // [B, n, W]        text_projection of the chosen rows
  at::Tensor imgd_prompt;          // [B, n, d]        instruction_imgdLinear(text feature)
};

class LingcloudV01Ipn {
 public:
  // `text` must outlive it. `num_query_tokens` is the Q-Former's Q. Checks the widths and ids.
  static absl::StatusOr<std::unique_ptr<LingcloudV01Ipn>> Create(LingcloudV01Adapter adapter,
                                                                 const ClipTextTower* text,
                                                                 int64_t num_query_tokens,
                                                                 const LingcloudV01Config& options);

  const LingcloudV01Config& options() const { return options_; }
  LingcloudV01AdapterImpl& adapter() const { return *adapter_.ptr(); }
  // The module itself (shared), e.g. for another LingcloudV01Ipn with other options.
  LingcloudV01Adapter holder() const { return adapter_; }
  int64_t num_query_tokens() const { return num_query_tokens_; }
  int64_t imgd_len() const { return adapter_->dims().imgd_len; }

  absl::StatusOr<at::Tensor> LanguageInputs(const at::Tensor& q) const;
  // lmi [B, Q, d], token_embeds = T5's shared[ids] [B, L, d], ids [B, L] int64 (padding: any id
  // other than <img-d> and <img-q>).
  absl::StatusOr<at::Tensor> FirstPassInputs(const at::Tensor& lmi, const at::Tensor& token_embeds,
                                             const at::Tensor& ids) const;
  // Per row, the index of its <img-q> in the encoder inputs (Q + its position in ids).
  // INVALID_ARGUMENT naming the row unless every row has exactly one <img-q>.
  absl::StatusOr<std::vector<int64_t>> ImgqRows(const at::Tensor& ids) const;
  // q [B, Q, H], h [B, d] (the first encoder pass's output at <img-q>) -> imgd_prompt [B, n, d].
  absl::StatusOr<at::Tensor> Interact(const at::Tensor& q, const at::Tensor& h,
                                      LingcloudV01Trace* trace = nullptr) const;
  // first_inputs [B, Q+L, d] with imgd_prompt[b][k] added at row b's k-th <img-d>.
  // INVALID_ARGUMENT naming the row unless each has exactly n <img-d>.
  absl::StatusOr<at::Tensor> SecondPassInputs(const at::Tensor& first_inputs, const at::Tensor& ids,
                                              const at::Tensor& imgd_prompt) const;

 private:
  LingcloudV01Ipn(LingcloudV01Adapter adapter, const ClipTextTower* text, int64_t num_query_tokens,
                  const LingcloudV01Config& options)
      : adapter_(std::move(adapter)),
        text_(text),
        num_query_tokens_(num_query_tokens),
        options_(options) {}
  LingcloudV01AdapterImpl& net() const { return *adapter_.ptr(); }

  LingcloudV01Adapter adapter_;
  const ClipTextTower* text_;
  int64_t num_query_tokens_;
  LingcloudV01Config options_;
  at::Tensor clip_bos_row_, clip_eos_row_;  // [W]: E_t + P_t of the interaction's first and last
};

}  // namespace lmeye
