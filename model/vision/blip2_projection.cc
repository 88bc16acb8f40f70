#include "model/vision/blip2_projection.h"

#include <vector>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

std::string Shape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

Blip2LanguageProjection::Blip2LanguageProjection(const Blip2Config& config,
                                                 const Blip2RuntimeOptions& options)
    : in_(config.qformer.hidden_size),
      out_(config.language_hidden_size),
      options_(options),
      linear_(torch::nn::LinearOptions(in_, out_)) {
  linear_->eval();
}

void Blip2LanguageProjection::Assign(const at::Tensor& weight, const at::Tensor& bias) {
  torch::NoGradGuard no_grad;
  linear_->weight.set_data(weight.to(options_.device, options_.dtype).contiguous());
  linear_->bias.set_data(bias.to(options_.device, options_.dtype).contiguous());
  for (auto& p : linear_->parameters()) p.set_requires_grad(false);
}

absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> Blip2LanguageProjection::Load(
    const Blip2Config& config, const Checkpoint& ckpt, const Blip2RuntimeOptions& options,
    const std::string& prefix) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  return GuardTorch(
      absl::StrCat("loading the BLIP-2 language_projection from ", ckpt.location()),
      [&]() -> absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> {
        std::unique_ptr<Blip2LanguageProjection> p(new Blip2LanguageProjection(config, options));
        p->linear_->to(options.device);
        const Blip2PartSpec spec{"BLIP-2 language_projection", prefix, {prefix}, nullptr};
        LMEYE_RETURN_IF_ERROR(LoadBlip2Part(*p->linear_, ckpt, spec, options.dtype));
        return p;
      });
}

absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> Blip2LanguageProjection::LoadFromTorch(
    const Blip2Config& config, const TorchCheckpoint& pth, const Blip2RuntimeOptions& options,
    absl::string_view entry, const std::string& prefix) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  if (!at::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError(
        "BLIP-2 language_projection: compute dtype must be floating-point");
  }
  TorchReadOptions read;
  read.strip_ddp_prefix = true;
  LMEYE_ASSIGN_OR_RETURN(std::vector<TorchTensorInfo> tensors, pth.Tensors(entry, read));
  const std::string context =
      absl::StrCat(pth.path(), entry.empty() ? "" : " entry '", entry, entry.empty() ? "" : "'");
  const std::vector<int64_t> want_weight = {config.language_hidden_size,
                                            config.qformer.hidden_size};
  const std::vector<int64_t> want_bias = {config.language_hidden_size};
  std::vector<std::string> problems;
  const TorchTensorInfo* found[2] = {nullptr, nullptr};
  const std::string names[2] = {prefix + "weight", prefix + "bias"};
  const std::vector<int64_t>* wants[2] = {&want_weight, &want_bias};
  for (int i = 0; i < 2; ++i) {
    for (const TorchTensorInfo& t : tensors) {
      if (t.name == names[i]) found[i] = &t;
    }
    if (found[i] == nullptr) {
      problems.push_back(absl::StrCat("missing tensor ", names[i]));
    } else if (found[i]->shape != *wants[i]) {
      problems.push_back(absl::StrCat(names[i], " has shape ", Shape(found[i]->shape),
                                      ", the config needs ", Shape(*wants[i])));
    } else if (!at::isFloatingType(found[i]->dtype)) {
      problems.push_back(absl::StrCat(names[i], " is not floating-point"));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("BLIP-2 language_projection from ", context,
                                                   ": ", absl::StrJoin(problems, "; ")));
  }
  LMEYE_ASSIGN_OR_RETURN(at::Tensor weight, pth.Load(*found[0]));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor bias, pth.Load(*found[1]));
  return GuardTorch(
      absl::StrCat("loading the BLIP-2 language_projection from ", context),
      [&]() -> absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> {
        std::unique_ptr<Blip2LanguageProjection> p(new Blip2LanguageProjection(config, options));
        p->Assign(weight, bias);
        return p;
      });
}

absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> Blip2LanguageProjection::LoadFromTorchFile(
    const Blip2Config& config, const std::string& path, const Blip2RuntimeOptions& options,
    absl::string_view entry, const std::string& prefix) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<TorchCheckpoint> pth, TorchCheckpoint::Open(path));
  return LoadFromTorch(config, *pth, options, entry, prefix);
}

absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> Blip2LanguageProjection::CreateRandom(
    const Blip2Config& config, const Blip2RuntimeOptions& options, uint64_t seed) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  if (!at::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError(
        "BLIP-2 language_projection: compute dtype must be floating-point");
  }
  return GuardTorch(
      "creating a random BLIP-2 language_projection",
      [&]() -> absl::StatusOr<std::unique_ptr<Blip2LanguageProjection>> {
        std::unique_ptr<Blip2LanguageProjection> p(new Blip2LanguageProjection(config, options));
        InitBlip2Random(*p->linear_, seed);
        p->linear_->to(options.device, options.dtype);
        return p;
      });
}

absl::StatusOr<at::Tensor> Blip2LanguageProjection::Forward(const at::Tensor& query_output) const {
  if (!query_output.defined() || query_output.dim() < 1 || query_output.size(-1) != in_ ||
      !at::isFloatingType(query_output.scalar_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BLIP-2 language_projection: input must be a floating-point [..., ", in_, "] tensor, got ",
        query_output.defined() ? Shape(query_output.sizes().vec()) : "an undefined tensor"));
  }
  return GuardTorch("BLIP-2 language_projection forward", [&]() -> absl::StatusOr<at::Tensor> {
    torch::NoGradGuard no_grad;
    torch::nn::LinearImpl& linear = *linear_.ptr();  // logically const
    return linear.forward(query_output.to(options_.device, options_.dtype));
  });
}

}  // namespace lmeye
