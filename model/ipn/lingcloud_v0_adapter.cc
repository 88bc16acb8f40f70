#include "model/ipn/lingcloud_v0_adapter.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/io/module_loader.h"
#include "model/io/safetensors.h"

namespace lmeye {

LingcloudV0AdapterImpl::LingcloudV0AdapterImpl(const LingcloudV0Dims& dims) : dims_(dims) {
  embedding_img = register_parameter("embedding_img", at::zeros({1, dims.d_l}));
  embedding_imgd = register_parameter("embedding_imgd", at::zeros({1, dims.d_l}));
  imgLinear = register_module("imgLinear", torch::nn::Linear(dims.d_clip, dims.d_l));
  promptMlp =
      register_module("promptMlp", torch::nn::Linear(dims.d_clip, dims.prompt_len * dims.d_clip));
  llm2clip = register_module("llm2clip", torch::nn::Linear(dims.d_l, dims.d_clip));
  imgdLinear =
      register_module("imgdLinear", torch::nn::Linear(dims.d_clip, dims.query_len * dims.d_l));
}

void LingcloudV0AdapterImpl::ResetParameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::manual_seed(seed);
  embedding_img.normal_(0.0, 1.0);
  embedding_imgd.normal_(0.0, 1.0);
  for (auto* linear : {&imgLinear, &promptMlp, &llm2clip, &imgdLinear}) {
    (*linear)->reset_parameters();
  }
}

absl::Status SaveLingcloudV0Adapter(LingcloudV0AdapterImpl& adapter, const std::string& path) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : adapter.named_parameters(/*recurse=*/true)) {
    tensors.emplace_back(p.key(), p.value().detach().to(at::kCPU, at::kFloat).contiguous());
  }
  return WriteSafetensors(path, tensors, {{"format", "pt"}, {"layout", "lingcloud-v0"}});
}

absl::StatusOr<LingcloudV0Adapter> LoadLingcloudV0Adapter(const std::string& path,
                                                          const LingcloudV0Dims& dims,
                                                          at::ScalarType dtype) {
  LingcloudV0Adapter adapter(dims);
  LMEYE_RETURN_IF_ERROR(LoadModuleFile(*adapter, path, dtype, "the LingCloud v0 adapter"));
  return adapter;
}

}  // namespace lmeye
