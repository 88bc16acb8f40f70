#include "model/train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/train/data_order.h"
#include "model/train/train_checkpoint.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

std::string CheckpointPath(const TrainConfig& c) {
  return c.output_dir + "/checkpoint.safetensors";
}

// Checkpoints are written through WriteFileAtomically: a process killed in between leaves its
// temporary (a whole checkpoint's size) behind. Only the output directory's writer rank runs here.
void RemoveStaleTemporaries(const std::string& dir, std::ostream* log) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!IsAtomicWriteTemporary(name)) continue;
    std::error_code removed;
    fs::remove(entry.path(), removed);
    if (log != nullptr && !removed) {
      *log << "lmeye train: removed " << entry.path().string() << ", left by an interrupted write"
           << std::endl;
    }
  }
}

// libtorch's autocast for one step's forward and backward (TrainConfig::autocast), as Python's
// torch.autocast: enabled with a dtype for the device type, the cast cache cleared on leaving.
class AutocastScope {
 public:
  AutocastScope(const std::string& mode, bool cuda) : on_(mode != "off"), cuda_(cuda) {
    if (!on_) return;
    const at::ScalarType dtype = mode == "fp16" ? at::kHalf : at::kBFloat16;
    if (cuda_) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda_) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
  bool cuda_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

std::string FormatSeconds(double s) {
  if (s < 60) return absl::StrFormat("%.1fs", s);
  if (s < 3600)
    return absl::StrFormat("%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return absl::StrFormat("%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainConfig& config,
                                                         std::ostream* log,
                                                         DataParallelGroup* group) {
  LMEYE_RETURN_IF_ERROR(config.Validate());
  if (group != nullptr && group->rank() != 0) log = nullptr;
  auto trainer = std::unique_ptr<Trainer>(new Trainer(config, log, group));
  LMEYE_RETURN_IF_ERROR(trainer->Init());
  return trainer;
}

int64_t Trainer::global_batch() const {
  return static_cast<int64_t>(config_.batch_size) * config_.grad_accum *
         (group_ != nullptr ? group_->world_size() : 1);
}

void Trainer::Log(const std::string& line) {
  if (log_ == nullptr) return;
  if (bar_shown_) *log_ << "\r\033[K";  // the bar's line becomes this one; the bar redraws
  bar_shown_ = false;
  *log_ << "lmeye train: " << line << std::endl;
}

void Trainer::DrawProgressBar(const TrainStepStats& s) {
  if (!progress_bar_ || log_ == nullptr) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * s.step / std::max<int64_t>(1, s.total_steps));
  *log_ << "\r\033[K[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
        << absl::StrFormat("%d/%d loss %.4f lr %.2e %.2fs/step eta %s", s.step, s.total_steps,
                           s.loss, s.lr, s.step_seconds, FormatSeconds(s.eta_seconds))
        << std::flush;
  bar_shown_ = true;
}

absl::Status Trainer::Init() {
  LMEYE_ASSIGN_OR_RETURN(objective_, CreateTrainObjective(config_, log_, group_));
  if (objective_->n_examples() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(config_.data, ": no training examples"));
  }
  const int64_t n = objective_->n_examples();
  total_steps_ = config_.max_steps > 0
                     ? config_.max_steps
                     : static_cast<int64_t>(std::ceil(config_.epochs * n / global_batch()));
  total_steps_ = std::max<int64_t>(total_steps_, 1);
  schedule_ = {config_.lr, config_.warmup_steps, total_steps_, config_.min_lr_ratio};
  AdamWOptions adamw;
  adamw.weight_decay = config_.weight_decay;
  adamw.beta1 = config_.beta1;
  adamw.beta2 = config_.beta2;
  adamw.eps = config_.adam_eps;
  optimizer_ = std::make_unique<AdamW>(objective_->trained(), adamw);

  std::error_code ec;
  fs::create_directories(config_.output_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(config_.output_dir, ": ", ec.message()));
  if (writer()) RemoveStaleTemporaries(config_.output_dir, log_);
  if (config_.resume && fs::exists(CheckpointPath(config_))) {
    TrainState state;
    LMEYE_RETURN_IF_ERROR(
        LoadTrainCheckpoint(CheckpointPath(config_), objective_->checkpoint_tensors(),
                            optimizer_.get(), &state));
    auto mismatch = [&](const char* what, auto was, auto now) {
      return absl::FailedPreconditionError(absl::StrCat(
          CheckpointPath(config_), ": cannot resume, ", what, " was ", was, ", now ", now));
    };
    if (state.stage != config_.stage) {
      return mismatch("stage", TrainStageName(state.stage), TrainStageName(config_.stage));
    }
    if (state.global_batch != global_batch()) {
      return mismatch("the global batch", state.global_batch, global_batch());
    }
    if (state.seed != config_.seed) return mismatch("seed", state.seed, config_.seed);
    if (state.n_examples != n) return mismatch("the number of examples", state.n_examples, n);
    if (state.group_by_length != config_.group_by_length) {
      auto text = [](bool b) { return b ? "true" : "false"; };
      return mismatch("group_by_length", text(state.group_by_length),
                      text(config_.group_by_length));
    }
    step_ = state.step;
    samples_ = state.samples;
    Log(absl::StrCat("resumed from ", CheckpointPath(config_), " at step ", step_));
  }
  return absl::OkStatus();
}

int64_t Trainer::ExampleAt(int64_t k) {
  const int64_t n = objective_->n_examples();
  const int64_t epoch = k / n;
  if (epoch != perm_epoch_) {
    perm_ = EpochOrder(n, config_.seed, epoch, config_.group_by_length ? global_batch() : 0,
                       [this](int64_t i) { return objective_->n_positions(i); });
    perm_epoch_ = epoch;
  }
  return perm_[k % n];
}

absl::StatusOr<TrainStepStats> Trainer::Step() {
  const auto start = std::chrono::steady_clock::now();
  const int64_t B = config_.batch_size;
  const int64_t base = samples_;
  // The step's examples, in micro-batch order.
  std::vector<int64_t> examples;
  int64_t n_targets = 0;
  for (int64_t i = 0; i < global_batch(); ++i) {
    examples.push_back(ExampleAt(base + i));
    n_targets += objective_->n_targets(examples.back());
  }
  const NamedTensors& trained = objective_->trained();
  for (auto& [name, p] : trained) p.mutable_grad() = at::Tensor();
  const int64_t world = group_ != nullptr ? group_->world_size() : 1;
  const int64_t rank = group_ != nullptr ? group_->rank() : 0;
  double loss_sum = 0;
  const bool cuda = trained.front().second.is_cuda();
  for (int64_t m = 0; m < config_.grad_accum; ++m) {
    absl::StatusOr<at::Tensor> forward;
    {
      // The forward only: backward runs in the forward's dtypes anyway (PyTorch's advice).
      AutocastScope autocast(config_.autocast, cuda);
      forward = objective_->LossSum(absl::MakeConstSpan(examples).subspan((m * world + rank) * B, B));
    }
    LMEYE_ASSIGN_OR_RETURN(at::Tensor loss, std::move(forward));
    LMEYE_RETURN_IF_ERROR(GuardTorch("backward", [&]() -> absl::Status {
      (loss / static_cast<double>(n_targets)).backward();
      loss_sum += loss.item<double>();
      return absl::OkStatus();
    }));
  }
  if (group_ != nullptr) {
    // One all-reduce: every gradient, the loss and the stop votes.
    std::vector<at::Tensor> reduce;
    for (auto& [name, p] : trained) {
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      reduce.push_back(p.grad());
    }
    at::Tensor extra = at::tensor({loss_sum, stop_.load() ? 1.0 : 0.0}, at::kFloat)
                           .to(trained.front().second.device());
    reduce.push_back(extra);
    LMEYE_RETURN_IF_ERROR(group_->AllReduceSum(reduce));
    loss_sum = extra[0].item<double>();
    stop_agreed_ = extra[1].item<double>() > 0;
  } else {
    stop_agreed_ = stop_.load();
  }
  TrainStepStats stats;
  LMEYE_RETURN_IF_ERROR(GuardTorch("optimizer step", [&]() -> absl::Status {
    stats.grad_norm = ClipGradNorm(trained, config_.max_grad_norm);
    stats.lr = schedule_.At(step_);
    optimizer_->Step(stats.lr);
    return absl::OkStatus();
  }));
  ++step_;
  samples_ += global_batch();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  seconds_ += seconds;
  ++timed_steps_;
  stats.step = step_;
  stats.total_steps = total_steps_;
  stats.epoch = static_cast<double>(samples_) / static_cast<double>(objective_->n_examples());
  stats.loss = loss_sum / static_cast<double>(n_targets);
  stats.step_seconds = seconds;
  stats.samples_per_second = static_cast<double>(global_batch()) / seconds;
  stats.eta_seconds = seconds_ / static_cast<double>(timed_steps_) *
                      static_cast<double>(std::max<int64_t>(0, total_steps_ - step_));
  return stats;
}

absl::StatusOr<EvalResult> Trainer::Evaluate() {
  if (!objective_->has_eval()) {
    return absl::FailedPreconditionError("no eval_data examples to evaluate");
  }
  // With a group, rank r evaluates examples r, r + W, ...; one all-reduce adds the sums up.
  const int world = group_ != nullptr ? group_->world_size() : 1;
  const int rank = group_ != nullptr ? group_->rank() : 0;
  LMEYE_ASSIGN_OR_RETURN(EvalSums sums,
                         objective_->EvaluateShard(rank, world, config_.batch_size));
  if (group_ != nullptr) {
    // float64 would be exact; float32 sums of a few ranks' counts and losses are close enough.
    at::Tensor t = at::tensor({sums.loss_sum, sums.n_targets, sums.n_scored, sums.n_correct},
                              at::kFloat)
                       .to(objective_->trained().front().second.device());
    LMEYE_RETURN_IF_ERROR(group_->AllReduceSum({t}));
    t = t.cpu();
    sums.loss_sum = t[0].item<double>();
    sums.n_targets = std::round(t[1].item<double>());
    sums.n_scored = std::round(t[2].item<double>());
    sums.n_correct = std::round(t[3].item<double>());
  }
  EvalResult result;
  result.loss = sums.n_targets > 0 ? sums.loss_sum / sums.n_targets : 0.0;
  result.n_scored = static_cast<int>(sums.n_scored);
  result.accuracy = sums.n_scored > 0 ? sums.n_correct / sums.n_scored : 0.0;
  result.accuracy_name = objective_->accuracy_name();
  return result;
}

void Trainer::LogStep(const TrainStepStats& s, const EvalResult* eval) {
  if (!writer()) return;
  std::string line = absl::StrFormat(
      "step %d/%d epoch %.2f loss %.4f lr %.3e grad_norm %.3f step %.3fs %.1f samples/s eta %s",
      s.step, s.total_steps, s.epoch, s.loss, s.lr, s.grad_norm, s.step_seconds,
      s.samples_per_second, FormatSeconds(s.eta_seconds));
  nlohmann::json j = {{"step", s.step},
                      {"total_steps", s.total_steps},
                      {"epoch", s.epoch},
                      {"loss", s.loss},
                      {"lr", s.lr},
                      {"grad_norm", s.grad_norm},
                      {"step_seconds", s.step_seconds},
                      {"samples_per_second", s.samples_per_second},
                      {"eta_seconds", s.eta_seconds}};
  if (eval != nullptr) {
    absl::StrAppendFormat(&line, " eval_loss %.4f", eval->loss);
    j["eval_loss"] = eval->loss;
    if (eval->n_scored > 0) {
      absl::StrAppendFormat(&line, " %s %.3f (%d)", eval->accuracy_name, eval->accuracy,
                            eval->n_scored);
      j["eval_" + eval->accuracy_name] = eval->accuracy;
      j["eval_scored"] = eval->n_scored;
    }
  }
  Log(line);
  std::ofstream out(config_.output_dir + "/train_log.jsonl", std::ios::app);
  out << j.dump() << "\n";
}

absl::Status Trainer::SaveCheckpoint() {
  if (!writer()) return absl::OkStatus();
  TrainState state;
  state.stage = config_.stage;
  state.step = step_;
  state.samples = samples_;
  state.global_batch = global_batch();
  state.seed = config_.seed;
  state.n_examples = objective_->n_examples();
  state.group_by_length = config_.group_by_length;
  LMEYE_RETURN_IF_ERROR(SaveTrainCheckpoint(CheckpointPath(config_),
                                            objective_->checkpoint_tensors(), *optimizer_, state));
  Log(absl::StrCat("checkpoint ", CheckpointPath(config_), " at step ", step_));
  return absl::OkStatus();
}

absl::Status Trainer::Finish() {
  if (!writer()) return absl::OkStatus();
  if (bar_shown_ && log_ != nullptr) *log_ << "\r\033[K";
  bar_shown_ = false;
  return objective_->WriteOutputs(log_);
}

absl::Status Trainer::Run() {
  Log(absl::StrFormat(
      "stage %s: %d steps of %d examples (batch_size %d x grad_accum %d x %d processes), %d "
      "trained tensors",
      TrainStageName(config_.stage), total_steps_, global_batch(), config_.batch_size,
      config_.grad_accum, group_ != nullptr ? group_->world_size() : 1,
      objective_->trained().size()));
  // One process may stop before its first step; a group agrees on stops inside Step().
  if (group_ == nullptr && stop_.load() && step_ < total_steps_) {
    stopped_ = true;
    Log(absl::StrCat("stop requested at step ", step_));
    return SaveCheckpoint();
  }
  while (step_ < total_steps_) {
    LMEYE_ASSIGN_OR_RETURN(TrainStepStats stats, Step());
    if (stop_agreed_ && step_ < total_steps_) {
      stopped_ = true;
      LogStep(stats, nullptr);
      Log(absl::StrCat("stop requested at step ", step_));
      return SaveCheckpoint();
    }
    std::optional<EvalResult> eval;
    if (config_.eval_every > 0 && step_ % config_.eval_every == 0) {
      LMEYE_ASSIGN_OR_RETURN(eval, Evaluate());
    }
    if (step_ % config_.log_every == 0 || step_ == total_steps_ || eval.has_value()) {
      LogStep(stats, eval.has_value() ? &*eval : nullptr);
    }
    if (step_ < total_steps_) DrawProgressBar(stats);
    if (config_.checkpoint_every > 0 && step_ % config_.checkpoint_every == 0) {
      LMEYE_RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
  if (config_.checkpoint_every == 0 || step_ % config_.checkpoint_every != 0) {
    LMEYE_RETURN_IF_ERROR(SaveCheckpoint());
  }
  if (objective_->has_eval()) {
    LMEYE_ASSIGN_OR_RETURN(EvalResult eval, Evaluate());
    Log(absl::StrFormat("final eval_loss %.4f", eval.loss) +
        (eval.n_scored > 0 ? absl::StrFormat(" %s %.3f (%d)", eval.accuracy_name, eval.accuracy,
                                             eval.n_scored)
                           : ""));
  }
  return Finish();
}

}  // namespace lmeye
