// The IPN of the LMEye checkpoints the authors released, layout v0 (docs/LINGCLOUD.md, "LMEye
// v0"): a libtorch module whose parameter names are the release's `net` keys:
//   embedding_img  [1, d_L]          added to the <img> row with imgLinear(feat)
//   embedding_imgd [1, d_L]          added to every <img-d> row, in both passes
//   imgLinear      clip -> d_L       the image prompt (feat = the CLIP image feature)
//   promptMlp      clip -> P * clip  P soft prompt rows of the CLIP text interaction
//   llm2clip       d_L -> clip       the request: the LLM's state at the first <img-d>
//   imgdLinear     clip -> Q * d_L   the Q vectors added to the <img-d> rows of the second pass
// (clip = the CLIP projection width, which the release also uses as the text width; P =
// prompt_len, Q = query_len, both 5 in the release.)
#pragma once

#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "absl/status/statusor.h"

namespace lmeye {

struct LingcloudV0Dims {
  int64_t d_clip = 0;  // CLIP image feature width = CLIP text width = text projection width
  int64_t d_l = 0;     // LLM input-embedding width
  int64_t prompt_len = 5;
  int64_t query_len = 5;
};

class LingcloudV0AdapterImpl : public torch::nn::Module {
 public:
  explicit LingcloudV0AdapterImpl(const LingcloudV0Dims& dims);

  const LingcloudV0Dims& dims() const { return dims_; }

  // Fresh values as the release's promot_model_instruction_remake draws them: embedding_img and
  // embedding_imgd torch.randn (N(0, 1)), the Linear layers torch.nn.Linear's default
  // (kaiming_uniform(a = sqrt(5)) weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases).
  // Reproducible from `seed` (the global generator is reseeded, as IpnAdapter does).
  void ResetParameters(uint64_t seed);

  at::Tensor embedding_img;               // [1, d_L]
  at::Tensor embedding_imgd;              // [1, d_L]
  torch::nn::Linear imgLinear{nullptr};   // d_clip -> d_L
  torch::nn::Linear promptMlp{nullptr};   // d_clip -> prompt_len * d_clip
  torch::nn::Linear llm2clip{nullptr};    // d_L -> d_clip
  torch::nn::Linear imgdLinear{nullptr};  // d_clip -> query_len * d_L

 private:
  LingcloudV0Dims dims_;
};
TORCH_MODULE(LingcloudV0Adapter);

// Loads an adapter.safetensors holding exactly the release's keys (as `lmeye import lingcloud`
// writes them); missing, extra or mis-shaped tensors are an error naming them.
absl::StatusOr<LingcloudV0Adapter> LoadLingcloudV0Adapter(const std::string& path,
                                                          const LingcloudV0Dims& dims,
                                                          at::ScalarType dtype);

// Writes every parameter under its release name, float32, with metadata layout lingcloud-v0:
// what LoadLingcloudV0Adapter reads back.
absl::Status SaveLingcloudV0Adapter(LingcloudV0AdapterImpl& adapter, const std::string& path);

}  // namespace lmeye
