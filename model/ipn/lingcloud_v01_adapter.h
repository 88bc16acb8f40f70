// The IPN of the released LMEye v0.1 on BLIP-2 Flan-T5 (docs/LINGCLOUD.md, "LMEye v0.1"): a
// libtorch module whose parameter names are the release's `net` keys without "module.":
//   instruction_embedding_imgd [1, d]   added to every <img-d> row, in both encoder passes
//   instruction_embedding_imgq [1, d]   added to the <img-q> row
//   language_projection        H -> d   the Q-Former queries into T5 (re-trained: replaces the
//                                       Blip2 checkpoint's own)
//   instruction_blip22clip     d -> n*W the request: the first encoder pass at <img-q>
//   instruction_linear         H -> W   the Q-Former queries into the CLIP text interaction
//   instruction_imgdLinear     W -> d   the vectors added to the <img-d> rows of the second pass
// (d = T5 d_model, H = Q-Former width, W = CLIP text width = projection width, n = imgd_len; the
// release has H = W = 768, n = 5.)
#pragma once

#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "absl/status/statusor.h"

namespace lmeye {

struct LingcloudV01Dims {
  int64_t d_model = 0;    // T5 width
  int64_t d_qformer = 0;  // Q-Former width
  int64_t d_clip = 0;     // CLIP text width = text projection width
  int64_t imgd_len = 5;
};

class LingcloudV01AdapterImpl : public torch::nn::Module {
 public:
  explicit LingcloudV01AdapterImpl(const LingcloudV01Dims& dims);

  const LingcloudV01Dims& dims() const { return dims_; }

  at::Tensor instruction_embedding_imgd;              // [1, d]
  at::Tensor instruction_embedding_imgq;              // [1, d]
  torch::nn::Linear language_projection{nullptr};     // H -> d
  torch::nn::Linear instruction_blip22clip{nullptr};  // d -> imgd_len * W
  torch::nn::Linear instruction_linear{nullptr};      // H -> W
  torch::nn::Linear instruction_imgdLinear{nullptr};  // W -> d

 private:
  LingcloudV01Dims dims_;
};
TORCH_MODULE(LingcloudV01Adapter);

// Loads an adapter.safetensors holding exactly these names (as `lmeye import lingcloud` writes
// them); missing, extra or mis-shaped tensors are an error naming them.
absl::StatusOr<LingcloudV01Adapter> LoadLingcloudV01Adapter(const std::string& path,
                                                            const LingcloudV01Dims& dims,
                                                            at::ScalarType dtype);

}  // namespace lmeye
