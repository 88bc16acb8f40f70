#include "model/ipn/lingcloud_v01_adapter.h"

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/io/module_loader.h"

namespace lmeye {

LingcloudV01AdapterImpl::LingcloudV01AdapterImpl(const LingcloudV01Dims& dims) : dims_(dims) {
  instruction_embedding_imgd =
      register_parameter("instruction_embedding_imgd", at::zeros({1, dims.d_model}));
  instruction_embedding_imgq =
      register_parameter("instruction_embedding_imgq", at::zeros({1, dims.d_model}));
  language_projection =
      register_module("language_projection", torch::nn::Linear(dims.d_qformer, dims.d_model));
  instruction_blip22clip = register_module(
      "instruction_blip22clip", torch::nn::Linear(dims.d_model, dims.imgd_len * dims.d_clip));
  instruction_linear =
      register_module("instruction_linear", torch::nn::Linear(dims.d_qformer, dims.d_clip));
  instruction_imgdLinear =
      register_module("instruction_imgdLinear", torch::nn::Linear(dims.d_clip, dims.d_model));
}

absl::StatusOr<LingcloudV01Adapter> LoadLingcloudV01Adapter(const std::string& path,
                                                            const LingcloudV01Dims& dims,
                                                            at::ScalarType dtype) {
  LingcloudV01Adapter adapter(dims);
  LMEYE_RETURN_IF_ERROR(LoadModuleFile(*adapter, path, dtype, "the LingCloud v0.1 adapter"));
  return adapter;
}

}  // namespace lmeye
