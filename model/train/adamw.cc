#include "model/train/adamw.h"

#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {

AdamW::AdamW(NamedTensors params, AdamWOptions options) : options_(options) {
  for (auto& [name, param] : params) {
    Slot slot;
    slot.name = name;
    slot.param = param;
    slot.exp_avg = at::zeros_like(param, at::MemoryFormat::Contiguous);
    slot.exp_avg_sq = at::zeros_like(param, at::MemoryFormat::Contiguous);
    slot.decay = param.dim() >= 2;
    slots_.push_back(std::move(slot));
  }
}

void AdamW::Step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias_correction1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(step_)));
  for (Slot& s : slots_) {
    const at::Tensor& grad = s.param.grad();
    if (!grad.defined()) continue;
    if (s.decay && options_.weight_decay != 0) s.param.mul_(1.0 - lr * options_.weight_decay);
    s.exp_avg.mul_(b1).add_(grad, 1.0 - b1);
    s.exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1.0 - b2);
    at::Tensor denom = (s.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.eps);
    s.param.addcdiv_(s.exp_avg, denom, -lr / bias_correction1);
  }
}

NamedTensors AdamW::StateTensors() const {
  NamedTensors out;
  for (const Slot& s : slots_) {
    out.emplace_back(absl::StrCat("adamw.exp_avg.", s.name), s.exp_avg);
    out.emplace_back(absl::StrCat("adamw.exp_avg_sq.", s.name), s.exp_avg_sq);
  }
  return out;
}

absl::Status AdamW::LoadState(
    int64_t step, const std::function<absl::StatusOr<at::Tensor>(const std::string&)>& lookup) {
  torch::NoGradGuard no_grad;
  for (Slot& s : slots_) {
    for (auto [prefix, target] : {std::pair<const char*, at::Tensor*>{"adamw.exp_avg.", &s.exp_avg},
                                  {"adamw.exp_avg_sq.", &s.exp_avg_sq}}) {
      const std::string name = absl::StrCat(prefix, s.name);
      LMEYE_ASSIGN_OR_RETURN(at::Tensor value, lookup(name));
      if (value.sizes() != target->sizes()) {
        return absl::InvalidArgumentError(
            absl::StrCat("optimizer state ", name, " has the wrong shape"));
      }
      target->copy_(value);
    }
  }
  step_ = step;
  return absl::OkStatus();
}

double ClipGradNorm(const NamedTensors& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double sum_sq = 0;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) sum_sq += p.grad().to(at::kDouble).pow(2).sum().item<double>();
  }
  const double norm = std::sqrt(sum_sq);
  if (max_norm > 0) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      for (const auto& [name, p] : params) {
        if (p.grad().defined()) p.mutable_grad().mul_(coef);
      }
    }
  }
  return norm;
}

}  // namespace lmeye
