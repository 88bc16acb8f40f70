#include "model/train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include <torch/csrc/autograd/grad_mode.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/device.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/train/feature_cache.h"
#include "model/train/qa_eval.h"
#include "model/train/stage_loss.h"
#include "model/train/train_checkpoint.h"
#include "model/vision/image_preprocess.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

constexpr int kEncodeBatch = 16;
constexpr size_t kMaxIssuesLogged = 20;

std::string CheckpointPath(const TrainConfig& c) {
  return c.output_dir + "/checkpoint.safetensors";
}

// Reads and tokenizes a manifest and computes (or reads from the feature cache) the h_I of its
// images; every skipped line goes to the manifest's issues.
absl::Status LoadData(const std::string& path, const TrainConfig& config, LmeyeModel& model,
                      const Tokenizer& tokenizer, const std::string& preprocessor_path,
                      DataParallelGroup* group, ExampleSet* set, at::Tensor* features,
                      Manifest* manifest, FeatureCacheStats* stats) {
  LMEYE_ASSIGN_OR_RETURN(*manifest, ReadManifest(path));
  PromptLimits limits;
  limits.max_prompt_tokens = config.max_tokens;
  LMEYE_ASSIGN_OR_RETURN(PromptBuilder builder, PromptBuilder::Create(&tokenizer, {}, limits));
  LMEYE_ASSIGN_OR_RETURN(*set, BuildExamples(*manifest, config.stage, builder, tokenizer,
                                             config.max_tokens, &manifest->issues));
  LMEYE_ASSIGN_OR_RETURN(ClipImagePreprocessor preprocessor,
                         ClipImagePreprocessor::FromFile(preprocessor_path));
  std::string cache_id;
  if (!config.feature_cache.empty()) {
    LMEYE_ASSIGN_OR_RETURN(cache_id, FeatureCacheId(config.model, model));
  }
  std::vector<std::pair<int, std::string>> failed;
  LMEYE_ASSIGN_OR_RETURN(*features,
                         CachedImageFeatures(model, preprocessor, set->images, config.feature_cache,
                                             cache_id, group, kEncodeBatch, &failed, stats));
  DropFailedImages(failed, set, &manifest->issues);
  return absl::OkStatus();
}

std::string CacheLine(const std::string& what, const FeatureCacheStats& s) {
  return absl::StrFormat(
      "%s image features: %d from the cache, %d encoded in %.2fs (%.1f images/s)", what, s.hits,
      s.encoded, s.encode_seconds, s.encode_seconds > 0 ? s.encoded / s.encode_seconds : 0.0);
}

std::string FormatSeconds(double s) {
  if (s < 60) return absl::StrFormat("%.1fs", s);
  if (s < 3600)
    return absl::StrFormat("%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return absl::StrFormat("%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
}

}  // namespace

std::vector<std::string> StageParameterNames(TrainStage stage) {
  if (stage == TrainStage::kAlign) return {"ipn.img_token", "ipn.align.weight", "ipn.align.bias"};
  return {"ipn.imgd_token",     "ipn.request.weight",  "ipn.request.bias", "ipn.decompose.weight",
          "ipn.decompose.bias", "ipn.transmit.weight", "ipn.transmit.bias"};
}

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
  LmeyeLoadOptions load;
  LMEYE_ASSIGN_OR_RETURN(load.device, ParseDevice(config_.device));
  LMEYE_ASSIGN_OR_RETURN(model_, LmeyeModel::Load(config_.model, load));
  const IpnAdapterConfig& ac = model_->adapter_config();
  LMEYE_ASSIGN_OR_RETURN(tokenizer_, LoadTokenizer(config_.model + "/" + ac.llm));
  IpnAdapter& adapter = model_->adapter();
  if (!config_.adapter.empty()) {
    LMEYE_ASSIGN_OR_RETURN(IpnAdapter start,
                           LoadIpnAdapter(config_.adapter, model_->dims(), at::kFloat));
    torch::NoGradGuard no_grad;
    auto src = start->named_parameters(/*recurse=*/true);
    for (auto& p : adapter->named_parameters(/*recurse=*/true)) p.value().copy_(src[p.key()]);
  }

  // Exactly the stage's parameters require grad; the backbones were loaded frozen.
  const std::vector<std::string> names = StageParameterNames(config_.stage);
  const std::set<std::string> trained(names.begin(), names.end());
  IpnAdapter fresh(model_->dims());
  if (config_.reinit) fresh->ResetParameters(config_.seed);
  auto fresh_params = fresh->named_parameters(/*recurse=*/true);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : adapter->named_parameters(/*recurse=*/true)) {
      const std::string name = absl::StrCat("ipn.", p.key());
      const bool train = trained.count(name) > 0;
      p.value().set_requires_grad(train);
      if (!train) continue;
      if (config_.reinit) p.value().copy_(fresh_params[p.key()]);
      trained_.emplace_back(name, p.value());
    }
  }

  const std::string preprocessor = config_.model + "/" + ac.vision + "/preprocessor_config.json";
  Manifest manifest;
  FeatureCacheStats cache_stats;
  LMEYE_RETURN_IF_ERROR(LoadData(config_.data, config_, *model_, *tokenizer_, preprocessor, group_,
                                 &data_, &features_, &manifest, &cache_stats));
  Log(CacheLine(config_.data, cache_stats));
  std::set<int> skipped_lines;
  for (size_t i = 0; i < manifest.issues.size(); ++i) {
    skipped_lines.insert(manifest.issues[i].line);
    if (i < kMaxIssuesLogged) Log(absl::StrCat("skipped ", manifest.IssueText(manifest.issues[i])));
  }
  if (manifest.issues.size() > kMaxIssuesLogged) {
    Log(absl::StrCat("... and ", manifest.issues.size() - kMaxIssuesLogged, " more issues"));
  }
  const double skipped =
      manifest.n_lines == 0 ? 0.0 : static_cast<double>(skipped_lines.size()) / manifest.n_lines;
  if (skipped > config_.max_skip_fraction) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: %d of %d lines skipped (%.1f%%), over max_skip_fraction %g", config_.data,
        skipped_lines.size(), manifest.n_lines, 100 * skipped, config_.max_skip_fraction));
  }
  if (data_.examples.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(config_.data, ": no training examples"));
  }
  Log(absl::StrFormat("%s: %d lines, %d examples, %d images, %d lines skipped", config_.data,
                      manifest.n_lines, data_.examples.size(), data_.images.size(),
                      skipped_lines.size()));
  if (!config_.eval_data.empty()) {
    Manifest eval_manifest;
    FeatureCacheStats eval_stats;
    LMEYE_RETURN_IF_ERROR(LoadData(config_.eval_data, config_, *model_, *tokenizer_, preprocessor,
                                   group_, &eval_data_, &eval_features_, &eval_manifest,
                                   &eval_stats));
    Log(CacheLine(config_.eval_data, eval_stats));
    for (const ManifestIssue& issue : eval_manifest.issues) {
      Log(absl::StrCat("eval: skipped ", eval_manifest.IssueText(issue)));
    }
  }

  const int64_t n = static_cast<int64_t>(data_.examples.size());
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
  optimizer_ = std::make_unique<AdamW>(trained_, adamw);

  std::error_code ec;
  fs::create_directories(config_.output_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(config_.output_dir, ": ", ec.message()));
  if (config_.resume && fs::exists(CheckpointPath(config_))) {
    TrainState state;
    LMEYE_RETURN_IF_ERROR(
        LoadTrainCheckpoint(CheckpointPath(config_), adapter, optimizer_.get(), &state));
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
    step_ = state.step;
    samples_ = state.samples;
    Log(absl::StrCat("resumed from ", CheckpointPath(config_), " at step ", step_));
  }
  return absl::OkStatus();
}

const TrainExample* Trainer::ExampleAt(int64_t k) {
  const int64_t n = static_cast<int64_t>(data_.examples.size());
  const int64_t epoch = k / n;
  if (epoch != perm_epoch_) {
    // Our own Fisher-Yates over mt19937_64: std::shuffle's algorithm is the library's choice,
    // and the order must not change under a resumed run or another standard library.
    perm_.resize(n);
    for (int64_t i = 0; i < n; ++i) perm_[i] = static_cast<int>(i);
    std::mt19937_64 rng(config_.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    for (int64_t i = n - 1; i > 0; --i) {
      std::swap(perm_[i], perm_[rng() % static_cast<uint64_t>(i + 1)]);
    }
    perm_epoch_ = epoch;
  }
  return &data_.examples[perm_[k % n]];
}

absl::StatusOr<TrainStepStats> Trainer::Step() {
  const auto start = std::chrono::steady_clock::now();
  const int64_t B = config_.batch_size;
  const int64_t base = samples_;
  // The step's examples, in micro-batch order.
  std::vector<const TrainExample*> examples;
  int64_t n_targets = 0;
  for (int64_t i = 0; i < global_batch(); ++i) {
    examples.push_back(ExampleAt(base + i));
    n_targets += static_cast<int64_t>(examples.back()->target.size());
  }
  for (auto& [name, p] : trained_) p.mutable_grad() = at::Tensor();
  const int64_t world = group_ != nullptr ? group_->world_size() : 1;
  const int64_t rank = group_ != nullptr ? group_->rank() : 0;
  double loss_sum = 0;
  for (int64_t m = 0; m < config_.grad_accum; ++m) {
    TrainBatch batch =
        MakeBatch(absl::MakeConstSpan(examples).subspan((m * world + rank) * B, B), features_);
    LMEYE_ASSIGN_OR_RETURN(at::Tensor loss, StageLossSum(*model_, config_.stage, batch));
    LMEYE_RETURN_IF_ERROR(GuardTorch("backward", [&]() -> absl::Status {
      (loss / static_cast<double>(n_targets)).backward();
      loss_sum += loss.item<double>();
      return absl::OkStatus();
    }));
  }
  if (group_ != nullptr) {
    // One all-reduce: every gradient, the loss and the stop votes.
    std::vector<at::Tensor> reduce;
    for (auto& [name, p] : trained_) {
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      reduce.push_back(p.grad());
    }
    at::Tensor extra = at::tensor({loss_sum, stop_.load() ? 1.0 : 0.0}, at::kFloat)
                           .to(trained_.front().second.device());
    reduce.push_back(extra);
    LMEYE_RETURN_IF_ERROR(group_->AllReduceSum(reduce));
    loss_sum = extra[0].item<double>();
    stop_agreed_ = extra[1].item<double>() > 0;
  } else {
    stop_agreed_ = stop_.load();
  }
  TrainStepStats stats;
  LMEYE_RETURN_IF_ERROR(GuardTorch("optimizer step", [&]() -> absl::Status {
    stats.grad_norm = ClipGradNorm(trained_, config_.max_grad_norm);
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
  stats.epoch = static_cast<double>(samples_) / static_cast<double>(data_.examples.size());
  stats.loss = loss_sum / static_cast<double>(n_targets);
  stats.step_seconds = seconds;
  stats.samples_per_second = static_cast<double>(global_batch()) / seconds;
  stats.eta_seconds = seconds_ / static_cast<double>(timed_steps_) *
                      static_cast<double>(std::max<int64_t>(0, total_steps_ - step_));
  return stats;
}

absl::StatusOr<EvalResult> Trainer::Evaluate() {
  if (eval_data_.examples.empty()) {
    return absl::FailedPreconditionError("no eval_data examples to evaluate");
  }
  torch::NoGradGuard no_grad;
  // With a group, rank r evaluates examples r, r + W, ...; one all-reduce adds the sums up.
  const size_t world = group_ != nullptr ? group_->world_size() : 1;
  const size_t rank = group_ != nullptr ? group_->rank() : 0;
  std::vector<TrainExample> mine;
  for (size_t i = rank; i < eval_data_.examples.size(); i += world) {
    mine.push_back(eval_data_.examples[i]);
  }
  double nll = 0;
  int64_t n_targets = 0;
  for (size_t i = 0; i < mine.size(); i += config_.batch_size) {
    std::vector<const TrainExample*> chunk;
    for (size_t j = i; j < std::min(mine.size(), i + config_.batch_size); ++j) {
      chunk.push_back(&mine[j]);
    }
    TrainBatch batch = MakeBatch(chunk, eval_features_);
    LMEYE_ASSIGN_OR_RETURN(at::Tensor loss, StageLossSum(*model_, config_.stage, batch));
    nll += loss.item<double>();
    n_targets += batch.n_targets;
  }
  QaEvalResult qa;
  if (config_.stage == TrainStage::kInstruct && config_.qa_max_answer_tokens > 0) {
    LMEYE_ASSIGN_OR_RETURN(qa,
                           EvaluateShortAnswers(*model_, *tokenizer_, mine, eval_features_,
                                                config_.qa_max_answer_tokens, config_.batch_size));
  }
  if (group_ != nullptr) {
    // float64 would be exact; float32 sums of a few ranks' counts and losses are close enough.
    at::Tensor sums = at::tensor({nll, static_cast<double>(n_targets), static_cast<double>(qa.n),
                                  static_cast<double>(qa.correct)},
                                 at::kFloat);
    LMEYE_RETURN_IF_ERROR(group_->AllReduceSum({sums}));
    nll = sums[0].item<double>();
    n_targets = std::llround(sums[1].item<double>());
    qa.n = static_cast<int>(std::lround(sums[2].item<double>()));
    qa.correct = static_cast<int>(std::lround(sums[3].item<double>()));
  }
  EvalResult result;
  result.loss = nll / static_cast<double>(n_targets);
  result.n_qa = qa.n;
  result.exact_match = qa.accuracy();
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
    if (eval->n_qa > 0) {
      absl::StrAppendFormat(&line, " exact_match %.3f (%d)", eval->exact_match, eval->n_qa);
      j["eval_exact_match"] = eval->exact_match;
      j["eval_qa"] = eval->n_qa;
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
  state.n_examples = static_cast<int64_t>(data_.examples.size());
  LMEYE_RETURN_IF_ERROR(
      SaveTrainCheckpoint(CheckpointPath(config_), model_->adapter(), *optimizer_, state));
  Log(absl::StrCat("checkpoint ", CheckpointPath(config_), " at step ", step_));
  return absl::OkStatus();
}

absl::Status Trainer::Finish() {
  if (!writer()) return absl::OkStatus();
  const std::string out = config_.output_dir;
  LMEYE_RETURN_IF_ERROR(SaveIpnAdapter(model_->adapter(), out + "/adapter.safetensors"));
  std::error_code ec;
  const fs::path model_dir = fs::absolute(config_.model, ec).lexically_normal();
  if (fs::weakly_canonical(model_dir, ec) != fs::weakly_canonical(out, ec)) {
    fs::copy_file(model_dir / "adapter.json", fs::path(out) / "adapter.json",
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat("copying adapter.json: ", ec.message()));
    const IpnAdapterConfig& ac = model_->adapter_config();
    for (const std::string& sub : {ac.vision, ac.text, ac.llm}) {
      const fs::path link = fs::path(out) / sub;
      if (fs::exists(fs::symlink_status(link))) continue;
      // The real directory, not a chain of links through earlier stages' outputs.
      fs::create_directory_symlink(fs::weakly_canonical(model_dir / sub, ec), link, ec);
      if (ec)
        return absl::InternalError(absl::StrCat("linking ", link.string(), ": ", ec.message()));
    }
  }
  Log(absl::StrCat("wrote ", out, "/adapter.safetensors (serve with: lmeye serve --model ", out,
                   ")"));
  return absl::OkStatus();
}

absl::Status Trainer::Run() {
  Log(absl::StrFormat(
      "stage %s: %d steps of %d examples (batch_size %d x grad_accum %d x %d processes), %d "
      "trained tensors",
      TrainStageName(config_.stage), total_steps_, global_batch(), config_.batch_size,
      config_.grad_accum, group_ != nullptr ? group_->world_size() : 1, trained_.size()));
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
  if (!eval_data_.examples.empty()) {
    LMEYE_ASSIGN_OR_RETURN(EvalResult eval, Evaluate());
    Log(absl::StrFormat("final eval_loss %.4f", eval.loss) +
        (eval.n_qa > 0 ? absl::StrFormat(" exact_match %.3f (%d)", eval.exact_match, eval.n_qa)
                       : ""));
  }
  return Finish();
}

}  // namespace lmeye
