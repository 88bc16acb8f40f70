#include "model/ipn/adapter.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/io/module_loader.h"
#include "model/io/safetensors.h"

namespace lmeye {

IpnAdapterImpl::IpnAdapterImpl(const IpnDims& dims) : dims_(dims) {
  img_token = register_parameter("img_token", at::zeros({dims.d_l}));
  align = register_module("align", torch::nn::Linear(dims.d_v, dims.d_l));
  imgd_token = register_parameter("imgd_token", at::zeros({dims.d_l}));
  request = register_module("request", torch::nn::Linear(dims.d_l, dims.d_t));
  decompose = register_module("decompose", torch::nn::Linear(dims.d_v, dims.k * dims.d_t));
  transmit = register_module("transmit", torch::nn::Linear(dims.d_o, dims.d_l));
}

at::Tensor IpnAdapterImpl::ImageToken(const at::Tensor& h_i) { return img_token + align(h_i); }

at::Tensor IpnAdapterImpl::Request(const at::Tensor& h_r) { return request(h_r); }

at::Tensor IpnAdapterImpl::Decompose(const at::Tensor& h_i) {
  return decompose(h_i).view({h_i.size(0), dims_.k, dims_.d_t});
}

at::Tensor IpnAdapterImpl::Transmit(const at::Tensor& o) { return transmit(o); }

at::Tensor IpnAdapterImpl::Slot(const at::Tensor& h_d, IpnCombine combine) {
  return combine == IpnCombine::kReplace ? h_d : imgd_token + h_d;
}

void IpnAdapterImpl::ResetParameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::manual_seed(seed);
  img_token.normal_(0.0, 0.02);
  imgd_token.normal_(0.0, 0.02);
  for (auto* linear : {&align, &request, &decompose, &transmit}) (*linear)->reset_parameters();
}

absl::StatusOr<IpnAdapter> LoadIpnAdapter(const std::string& path, const IpnDims& dims,
                                          at::ScalarType dtype) {
  LMEYE_ASSIGN_OR_RETURN(auto ckpt, Checkpoint::OpenFile(path));
  return GuardTorch(
      absl::StrCat("loading IPN adapter ", path), [&]() -> absl::StatusOr<IpnAdapter> {
        IpnAdapter adapter(dims);
        LoadOptions options;
        options.prefix = "ipn.";
        options.dtype = dtype;
        LMEYE_RETURN_IF_ERROR(LoadModuleWeights(*adapter, *ckpt, options));
        // Tensors outside "ipn." are not ours either.
        for (const std::string& name : ckpt->names()) {
          if (name.rfind("ipn.", 0) != 0) {
            return absl::InvalidArgumentError(absl::StrCat(
                "adapter ", path, ": unexpected tensor \"", name, "\" (not under ipn.)"));
          }
        }
        adapter->to(dtype);
        return adapter;
      });
}

absl::Status SaveIpnAdapter(IpnAdapter& adapter, const std::string& path) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : adapter->named_parameters(/*recurse=*/true)) {
    tensors.emplace_back(absl::StrCat("ipn.", p.key()), p.value().detach().to(at::kFloat));
  }
  return WriteSafetensors(path, tensors, {{"format", "pt"}});
}

}  // namespace lmeye
