// The trainable IPN parameters (docs/DESIGN.md section 2), as a libtorch module whose parameter
// names are the adapter checkpoint keys under "ipn.": img_token, align, imgd_token, request,
// decompose, transmit.
#pragma once

#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/ipn/adapter_config.h"

namespace lmeye {

// Widths the adapter connects; they follow from the backbones and the adapter options.
struct IpnDims {
  int64_t d_v = 0;  // h_I width: vision hidden (pooled) or CLIP projection dim (projected)
  int64_t d_t = 0;  // CLIP text hidden width (interaction rows)
  int64_t d_o = 0;  // transmit input: d_t, or the CLIP projection dim with text_projection
  int64_t d_l = 0;  // LLM input-embedding width
  int64_t k = 5;    // num_fine
};

class IpnAdapterImpl : public torch::nn::Module {
 public:
  explicit IpnAdapterImpl(const IpnDims& dims);

  const IpnDims& dims() const { return dims_; }

  // h_img = img_token + align(h_I).  h_i: [B, d_v] -> [B, d_L]
  at::Tensor ImageToken(const at::Tensor& h_i);
  // h_R = request(h_r).  [B, d_L] -> [B, d_t]
  at::Tensor Request(const at::Tensor& h_r);
  // h_f = decompose(h_I) viewed as K rows.  [B, d_v] -> [B, K, d_t]
  at::Tensor Decompose(const at::Tensor& h_i);
  // h_d = transmit(o).  [B, d_o] -> [B, d_L]
  at::Tensor Transmit(const at::Tensor& o);
  // The embedding placed in the <img-d> slot of the second pass.  h_d: [B, d_L] -> [B, d_L]
  at::Tensor Slot(const at::Tensor& h_d, IpnCombine combine);

  // Fresh initialisation for training: tokens N(0, 0.02^2), Linear as torch's default.
  void ResetParameters(uint64_t seed);

  at::Tensor img_token;                  // [d_L]
  at::Tensor imgd_token;                 // [d_L]
  torch::nn::Linear align{nullptr};      // d_v -> d_L
  torch::nn::Linear request{nullptr};    // d_L -> d_t
  torch::nn::Linear decompose{nullptr};  // d_v -> K * d_t
  torch::nn::Linear transmit{nullptr};   // d_o -> d_L

 private:
  IpnDims dims_;
};
TORCH_MODULE(IpnAdapter);

// Loads adapter.safetensors (keys "ipn.*"); missing, extra or mis-shaped tensors are an error.
absl::StatusOr<IpnAdapter> LoadIpnAdapter(const std::string& path, const IpnDims& dims,
                                          at::ScalarType dtype);
// Writes the adapter's parameters as float32 "ipn.*" tensors, atomically.
absl::Status SaveIpnAdapter(IpnAdapter& adapter, const std::string& path);

}  // namespace lmeye
