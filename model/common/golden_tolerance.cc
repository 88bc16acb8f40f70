#include "model/common/golden_tolerance.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lmeye {

std::string GoldenComparison::Describe() const {
  if (!same_shape) return "shape differs from the golden's";
  if (exact) {
    return n_mismatched == 0 ? "exact" : absl::StrFormat("%d ids differ", n_mismatched);
  }
  std::string text = absl::StrFormat("max abs diff %.3e %s bound %.3e (scale %.3g)", max_abs_diff,
                                     max_abs_diff <= bound ? "<=" : ">", bound, scale);
  if (!finite) text += ", NaN or infinity in the recomputed values";
  return text;
}

GoldenComparison CompareToGolden(const at::Tensor& actual, const at::Tensor& golden,
                                 const at::Tensor& mask, double relative) {
  GoldenComparison c;
  if (actual.sizes() != golden.sizes()) {
    c.same_shape = false;
    return c;
  }
  const at::Tensor a = actual.to(at::kCPU), g = golden.to(at::kCPU);
  const at::Tensor selected =
      mask.defined() ? mask.to(at::kCPU).to(at::kBool).expand_as(g) : at::ones_like(g, at::kBool);
  if (!at::isFloatingType(g.scalar_type()) && !at::isComplexType(g.scalar_type())) {
    c.exact = true;
    c.bound = 0;
    const at::Tensor differ = (a.to(at::kLong) != g.to(at::kLong)) & selected;
    c.n_mismatched = differ.sum().item<int64_t>();
    c.max_abs_diff = c.n_mismatched == 0 ? 0.0
                                         : (a.to(at::kDouble) - g.to(at::kDouble))
                                               .abs()
                                               .masked_select(differ)
                                               .max()
                                               .item<double>();
    return c;
  }
  const at::Tensor ad = a.to(at::kDouble), gd = g.to(at::kDouble);
  const at::Tensor compared_actual = ad.masked_select(selected);
  const at::Tensor compared_golden = gd.masked_select(selected);
  if (compared_golden.numel() > 0) {
    c.finite = at::isfinite(compared_actual).all().item<bool>();
    c.scale = std::max(1.0, compared_golden.abs().max().item<double>());
    // NaN - x is NaN and max() propagates it: a non-finite actual never passes (finite is false).
    c.max_abs_diff = (compared_actual - compared_golden).abs().max().item<double>();
  }
  c.bound = relative * c.scale;
  return c;
}

}  // namespace lmeye
