#include "model/vision/blip2_weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/module_loader.h"

namespace lmeye {

absl::Status LoadBlip2Part(torch::nn::Module& module, const Checkpoint& ckpt,
                           const Blip2PartSpec& spec, at::ScalarType dtype) {
  if (!at::isFloatingType(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.what, ": compute dtype must be floating-point"));
  }
  LoadOptions options;
  options.prefix = spec.module_prefix;
  options.dtype = dtype;
  options.strict_extra = true;
  // LoadModuleWeights reports every unused key under the prefix: list the ones that are not
  // this part's (other parts, the language model) or that the part may leave unused.
  for (const std::string& name : ckpt.names()) {
    if (!absl::StartsWith(name, spec.module_prefix)) continue;
    bool owned = false;
    for (const std::string& p : spec.owned) owned = owned || absl::StartsWith(name, p);
    if (!owned || (spec.unused_ok && spec.unused_ok(name))) {
      options.ignore_extra.push_back(name.substr(spec.module_prefix.size()));
    }
  }
  absl::Status s = LoadModuleWeights(module, ckpt, options);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(spec.what, ": ", s.message()));
  for (auto& p : module.parameters()) p.set_requires_grad(false);
  return absl::OkStatus();
}

void InitBlip2Random(torch::nn::Module& module, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor& p = item.value();
    const std::string name = absl::AsciiStrToLower(item.key());
    at::Tensor cpu = at::empty(p.sizes(), at::kFloat);
    if (absl::StrContains(name, "norm")) {
      cpu.fill_(absl::EndsWith(name, ".weight") ? 1.0 : 0.0);
    } else {
      cpu.normal_(0.0, 0.02, gen);
    }
    p.copy_(cpu);
    p.set_requires_grad(false);
  }
}

}  // namespace lmeye
