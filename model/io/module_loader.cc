#include "model/io/module_loader.h"

#include <algorithm>
#include <set>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {

absl::Status LoadModuleWeights(torch::nn::Module& module, const Checkpoint& ckpt,
                               const LoadOptions& options) {
  return GuardTorch(absl::StrCat("loading weights from ", ckpt.location()), [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    std::vector<std::string> missing, mismatched, extra;
    std::set<std::string> used;
    auto load_one = [&](const std::string& name, at::Tensor& target) -> absl::Status {
      const std::string key = options.prefix + name;
      const CheckpointTensorInfo* e = ckpt.Info(key);
      if (e == nullptr) {
        if (std::find(options.optional.begin(), options.optional.end(), name) ==
            options.optional.end()) {
          missing.push_back(key);
        }
        return absl::OkStatus();
      }
      used.insert(key);
      if (e->shape != target.sizes().vec()) {
        mismatched.push_back(absl::StrCat(key, " (checkpoint [", absl::StrJoin(e->shape, ","),
                                          "], model [", absl::StrJoin(target.sizes().vec(), ","),
                                          "])"));
        return absl::OkStatus();
      }
      at::ScalarType dtype =
          at::isFloatingType(target.scalar_type()) ? options.dtype : target.scalar_type();
      LMEYE_ASSIGN_OR_RETURN(at::Tensor value, ckpt.Load(key, dtype));
      if (target.scalar_type() != dtype)
        target.set_data(at::empty_like(target, target.options().dtype(dtype)));
      target.copy_(value);
      return absl::OkStatus();
    };
    for (auto& item : module.named_parameters(/*recurse=*/true)) {
      LMEYE_RETURN_IF_ERROR(load_one(item.key(), item.value()));
    }
    for (auto& item : module.named_buffers(/*recurse=*/true)) {
      LMEYE_RETURN_IF_ERROR(load_one(item.key(), item.value()));
    }
    if (options.strict_extra) {
      for (const std::string& name : ckpt.names()) {
        if (!absl::StartsWith(name, options.prefix) || used.count(name)) continue;
        std::string local = name.substr(options.prefix.size());
        if (std::find(options.ignore_extra.begin(), options.ignore_extra.end(), local) !=
            options.ignore_extra.end()) {
          continue;
        }
        extra.push_back(name);
      }
    }
    if (missing.empty() && mismatched.empty() && extra.empty()) return absl::OkStatus();
    std::string msg = absl::StrCat("checkpoint ", ckpt.location(), " does not match the model:");
    if (!missing.empty())
      absl::StrAppend(&msg, " missing tensors: ", absl::StrJoin(missing, ", "), ";");
    if (!mismatched.empty())
      absl::StrAppend(&msg, " shape mismatches: ", absl::StrJoin(mismatched, ", "), ";");
    if (!extra.empty())
      absl::StrAppend(&msg, " unexpected tensors: ", absl::StrJoin(extra, ", "), ";");
    return absl::InvalidArgumentError(msg);
  });
}

absl::Status LoadModuleFile(torch::nn::Module& module, const std::string& path,
                            at::ScalarType dtype, const std::string& what) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::OpenFile(path));
  return GuardTorch(absl::StrCat("loading ", what, " ", path), [&]() -> absl::Status {
    LoadOptions options;
    options.dtype = dtype;
    options.strict_extra = true;
    LMEYE_RETURN_IF_ERROR(LoadModuleWeights(module, *ckpt, options));
    module.to(dtype);
    return absl::OkStatus();
  });
}

}  // namespace lmeye
