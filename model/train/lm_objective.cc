#include "model/train/lm_objective.h"

#include <filesystem>
#include <map>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/common/device.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/train/output_dir.h"
#include "model/train/stage_loss.h"
#include "model/train/text_manifest.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

// The leaves autograd reaches: each weight, except that the views of one fused storage are
// replaced by the storage itself, named "<view 1>|<view 2>|...".
NamedTensors TrainableLeaves(const LlmModel& llm) {
  NamedTensors out;
  std::map<const c10::TensorImpl*, size_t> fused;  // storage -> index in out
  for (const auto& [name, t] : llm.NamedTensors()) {
    if (!t.is_view()) {
      out.emplace_back(name, t);
      continue;
    }
    const at::Tensor base(t._base());
    auto [it, fresh] = fused.emplace(base.unsafeGetTensorImpl(), out.size());
    if (fresh) {
      out.emplace_back(name, base);
    } else {
      absl::StrAppend(&out[it->second].first, "|", name);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LmObjective>> LmObjective::Create(const TrainConfig& config,
                                                                 std::ostream* log) {
  auto objective = std::unique_ptr<LmObjective>(new LmObjective(config));
  LMEYE_RETURN_IF_ERROR(objective->Init(log));
  return objective;
}

absl::Status LmObjective::Init(std::ostream* log) {
  LMEYE_ASSIGN_OR_RETURN(const ModelDir dir, ModelDir::Open(config_.model));
  adapter_config_ = dir.adapter_config();
  std::error_code ec;
  llm_dir_ = fs::weakly_canonical(dir.llm_dir(), ec).string();
  LlmLoadOptions load;
  LMEYE_ASSIGN_OR_RETURN(load.device, ParseDevice(config_.device));
  LMEYE_ASSIGN_OR_RETURN(llm_, LlmModel::Load(llm_dir_, load));
  LMEYE_ASSIGN_OR_RETURN(tokenizer_, LoadTokenizer(llm_dir_));
  if (tokenizer_->eos_id() < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(llm_dir_, ": the tokenizer has no EOS token to end documents with"));
  }
  LMEYE_RETURN_IF_ERROR(GuardTorch("marking the LLM trainable", [&]() -> absl::Status {
    trained_ = TrainableLeaves(*llm_);
    for (auto& [name, t] : trained_) t.set_requires_grad(true);
    return absl::OkStatus();
  }));
  LMEYE_RETURN_IF_ERROR(LoadDocuments(config_.data, &train_, log));
  if (!config_.eval_data.empty()) {
    LMEYE_RETURN_IF_ERROR(LoadDocuments(config_.eval_data, &eval_, log));
  }
  int64_t tokens = 0;
  for (const auto& d : train_) tokens += static_cast<int64_t>(d.size());
  LogTrainLine(log, absl::StrFormat("lm: %d documents (%d tokens), %d eval documents, %d trained "
                                    "tensors",
                                    train_.size(), tokens, eval_.size(), trained_.size()));
  return absl::OkStatus();
}

absl::Status LmObjective::LoadDocuments(const std::string& path,
                                        std::vector<std::vector<int>>* out, std::ostream* log) {
  LMEYE_ASSIGN_OR_RETURN(TextManifest manifest, ReadTextManifest(path));
  std::vector<std::pair<int, std::string>> issues;
  for (const ManifestIssue& i : manifest.issues) {
    issues.emplace_back(i.line, absl::StrCat(path, ":", i.line, ": ", i.message));
  }
  const int64_t vocab = llm_->config().vocab_size;
  for (const TextDocument& doc : manifest.documents) {
    absl::StatusOr<std::vector<int>> ids = tokenizer_->EncodeForPrompt(doc.text);
    if (!ids.ok()) {
      issues.emplace_back(doc.line, absl::StrCat(path, ":", doc.line, ": ", ids.status().message()));
      continue;
    }
    ids->push_back(tokenizer_->eos_id());
    if (static_cast<int64_t>(ids->size()) > config_.max_tokens) ids->resize(config_.max_tokens);
    bool in_vocab = true;
    for (int id : *ids) in_vocab &= id >= 0 && id < vocab;
    if (!in_vocab) {
      issues.emplace_back(doc.line, absl::StrCat(path, ":", doc.line, ": a token id is outside "
                                                 "the LLM's vocabulary of ", vocab));
      continue;
    }
    out->push_back(*std::move(ids));
  }
  LMEYE_RETURN_IF_ERROR(ReportSkippedLines(config_, path, manifest.n_lines, issues, log));
  if (out->empty()) return absl::FailedPreconditionError(absl::StrCat(path, ": no documents"));
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> LmObjective::NllSum(const std::vector<std::vector<int>>& docs,
                                               const std::vector<int64_t>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t T = 0;
  for (int64_t r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(docs[r].size()));
  std::vector<int64_t> ids(B * T, 0), mask(B * T, 0), label_pos, labels;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int>& d = docs[rows[b]];
    for (size_t i = 0; i < d.size(); ++i) {
      ids[b * T + i] = d[i];
      mask[b * T + i] = 1;
      if (i + 1 < d.size()) {
        label_pos.push_back(b * T + static_cast<int64_t>(i));
        labels.push_back(d[i + 1]);
      }
    }
  }
  const at::Device device = llm_->device();
  LlmInput input;
  input.input_ids = at::tensor(ids, at::kLong).view({B, T}).to(device);
  input.attention_mask = at::tensor(mask, at::kLong).view({B, T}).to(device);
  LlmOutputOptions options;
  options.logits = LogitsAt::kNone;  // lm_head only at the target positions
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm_->Forward(input, options));
  return GuardTorch("lm loss", [&]() -> absl::StatusOr<at::Tensor> {
    return TargetNllSum(*llm_, out.last_hidden_state, at::tensor(label_pos, at::kLong),
                        at::tensor(labels, at::kLong));
  });
}

absl::StatusOr<at::Tensor> LmObjective::LossSum(absl::Span<const int64_t> examples) {
  return NllSum(train_, std::vector<int64_t>(examples.begin(), examples.end()));
}

absl::StatusOr<EvalSums> LmObjective::EvaluateShard(int rank, int world, int batch_size) {
  if (eval_.empty()) return absl::FailedPreconditionError("no eval_data documents to evaluate");
  torch::NoGradGuard no_grad;
  EvalSums sums;
  const int64_t n = static_cast<int64_t>(eval_.size());
  for (const std::vector<int64_t>& rows : EvalShardBatches(n, rank, world, batch_size)) {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor nll, NllSum(eval_, rows));
    sums.loss_sum += nll.item<double>();
    for (int64_t r : rows) sums.n_targets += static_cast<double>(eval_[r].size() - 1);
  }
  return sums;
}

absl::Status LmObjective::WriteOutputs(std::ostream* log) {
  LMEYE_ASSIGN_OR_RETURN(at::ScalarType dtype, ParseDtype(config_.save_dtype));
  const std::string dst = config_.output_dir + "/" + adapter_config_.llm;
  LMEYE_RETURN_IF_ERROR(WriteBackboneDir(llm_dir_, dst, llm_->NamedTensors(), dtype));
  LMEYE_RETURN_IF_ERROR(CompleteModelDir(config_.model, config_.output_dir, adapter_config_,
                                         {adapter_config_.llm}, /*adapter_written=*/false));
  LogTrainLine(log, absl::StrCat("wrote the LLM to ", dst, " (", config_.output_dir,
                                 " is a model directory: lmeye serve --model ",
                                 config_.output_dir, ")"));
  return absl::OkStatus();
}

}  // namespace lmeye
