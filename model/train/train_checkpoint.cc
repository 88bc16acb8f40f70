#include "model/train/train_checkpoint.h"

#include <map>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/safetensors.h"

namespace lmeye {
namespace {

constexpr char kFormat[] = "lmeye-train-checkpoint";

absl::Status BadFile(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("training checkpoint ", path, ": ", why));
}

}  // namespace

absl::Status SaveTrainCheckpoint(const std::string& path, const NamedTensors& model_tensors,
                                 const AdamW& optimizer, const TrainState& state) {
  return GuardTorch("writing the training checkpoint", [&]() -> absl::Status {
    NamedTensors tensors;
    for (const auto& [name, t] : model_tensors) {
      tensors.emplace_back(name, t.detach().to(at::kFloat).cpu());
    }
    for (auto& [name, t] : optimizer.StateTensors()) tensors.emplace_back(name, t.cpu());
    const std::map<std::string, std::string> metadata = {
        {"format", kFormat},
        {"stage", TrainStageName(state.stage)},
        {"step", absl::StrCat(state.step)},
        {"samples", absl::StrCat(state.samples)},
        {"global_batch", absl::StrCat(state.global_batch)},
        {"seed", absl::StrCat(state.seed)},
        {"n_examples", absl::StrCat(state.n_examples)},
        {"group_by_length", state.group_by_length ? "true" : "false"},
    };
    return WriteSafetensors(path, tensors, metadata);
  });
}

absl::Status LoadTrainCheckpoint(const std::string& path, const NamedTensors& tensors,
                                 AdamW* optimizer, TrainState* state) {
  LMEYE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
  const auto& meta = file->metadata();
  auto field = [&](const char* key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? "" : it->second;
  };
  if (field("format") != kFormat) return BadFile(path, "not a training checkpoint");
  const std::string stage = field("stage");
  absl::StatusOr<TrainStage> parsed = ParseTrainStage(stage);
  if (!parsed.ok()) return BadFile(path, absl::StrCat("unknown stage \"", stage, "\""));
  state->stage = *parsed;
  if (!absl::SimpleAtoi(field("step"), &state->step) ||
      !absl::SimpleAtoi(field("samples"), &state->samples) ||
      !absl::SimpleAtoi(field("global_batch"), &state->global_batch) ||
      !absl::SimpleAtoi(field("seed"), &state->seed) ||
      !absl::SimpleAtoi(field("n_examples"), &state->n_examples)) {
    return BadFile(path, "bad step/samples/global_batch/seed/n_examples metadata");
  }
  const std::string grouped = field("group_by_length");
  state->group_by_length = false;
  if (!grouped.empty() && !absl::SimpleAtob(grouped, &state->group_by_length)) {
    return BadFile(path, "bad group_by_length metadata");
  }
  auto lookup = [&](const std::string& name) -> absl::StatusOr<at::Tensor> {
    if (!file->Contains(name)) return BadFile(path, absl::StrCat("missing tensor ", name));
    return file->Load(name, at::kFloat);
  };
  return GuardTorch(absl::StrCat("loading ", path), [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    for (const auto& [name, t] : tensors) {
      LMEYE_ASSIGN_OR_RETURN(at::Tensor value, lookup(name));
      if (value.sizes() != t.sizes()) {
        return BadFile(path, absl::StrCat(name, " has the wrong shape"));
      }
      at::Tensor target = t;  // shares storage with the model's tensor
      target.copy_(value);
    }
    return optimizer->LoadState(state->step, lookup);
  });
}

}  // namespace lmeye
