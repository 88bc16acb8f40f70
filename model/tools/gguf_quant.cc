#include "model/tools/gguf_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <c10/util/Half.h>

#include "absl/strings/str_cat.h"
#include "model/common/torch_status.h"
#include "model/llm/int8_weight.h"

namespace lmeye {

static_assert(kQ8_0BlockSize == kInt8Block, "GGUF Q8_0 and Int8Weight share one block size");

void QuantizeQ8_0(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    uint8_t* block = out + b * (2 + kQ8_0BlockSize);
    const c10::Half d16(
        QuantizeQ8_0Block(x + b * kQ8_0BlockSize, reinterpret_cast<int8_t*>(block + 2)));
    std::memcpy(block, &d16.x, 2);
  }
}

void DequantizeQ8_0(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    const uint8_t* block = in + b * (2 + kQ8_0BlockSize);
    c10::Half d16;
    std::memcpy(&d16.x, block, 2);
    const float d = static_cast<float>(d16);
    for (int64_t j = 0; j < kQ8_0BlockSize; ++j) {
      out[b * kQ8_0BlockSize + j] = d * static_cast<float>(static_cast<int8_t>(block[2 + j]));
    }
  }
}

absl::StatusOr<std::string> ToGgmlBytes(const at::Tensor& tensor, GgmlType type) {
  return GuardTorch("GGUF tensor bytes", [&]() -> absl::StatusOr<std::string> {
    at::ScalarType dtype = at::kFloat;
    if (type == GgmlType::kF16) dtype = at::kHalf;
    if (type == GgmlType::kBF16) dtype = at::kBFloat16;
    at::Tensor t = tensor.to(at::kCPU, dtype).contiguous();
    if (type != GgmlType::kQ8_0) {
      return std::string(static_cast<const char*>(t.data_ptr()), t.nbytes());
    }
    const int64_t cols = t.dim() == 0 ? 1 : t.size(-1);
    if (cols % kQ8_0BlockSize != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("q8_0 needs rows of a multiple of ", kQ8_0BlockSize, " values, not ", cols));
    }
    std::string out(static_cast<size_t>(t.numel() / kQ8_0BlockSize * (2 + kQ8_0BlockSize)), '\0');
    QuantizeQ8_0(t.data_ptr<float>(), t.numel(), reinterpret_cast<uint8_t*>(out.data()));
    return out;
  });
}

}  // namespace lmeye
