#include "model/train/ipn_objective.h"

#include <set>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/device.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/ipn/marked_prompt.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/train/feature_cache.h"
#include "model/train/output_dir.h"
#include "model/train/qa_eval.h"
#include "model/train/stage_loss.h"
#include "model/vision/image_preprocess.h"

namespace lmeye {
namespace {

constexpr int kEncodeBatch = 16;

// Reads and tokenizes a manifest and computes (or reads from the feature cache) the h_I of its
// images; every skipped line goes to the manifest's issues.
absl::Status LoadData(const std::string& path, const TrainConfig& config, LmeyeModel& model,
                      const Tokenizer& tokenizer, const std::string& preprocessor_path,
                      DataParallelGroup* group, ExampleSet* set, at::Tensor* features,
                      Manifest* manifest, FeatureCacheStats* stats) {
  LMEYE_ASSIGN_OR_RETURN(*manifest, ReadManifest(path));
  PromptLimits limits;
  limits.max_prompt_tokens = config.max_tokens;
  // The released v0 layout trains on its own prompts (the ones it serves with), and its phase 1
  // reads [<img>, caption] with a BOS only under add_bos (the release tokenizes without special
  // tokens).
  PromptTemplates templates;
  std::optional<MarkedPromptOptions> marked;
  std::vector<int> align_prefix = tokenizer.PromptPrefix();
  if (const LingcloudV0Ipn* v0 = model.lingcloud_v0(); v0 != nullptr) {
    marked = LingcloudV0MarkedPrompts(v0->options());
    templates = LingcloudV0PromptTemplates(marked->n_slots);
    align_prefix.clear();
    if (marked->add_bos && tokenizer.bos_id() >= 0) align_prefix.push_back(tokenizer.bos_id());
  }
  LMEYE_ASSIGN_OR_RETURN(PromptBuilder builder,
                         PromptBuilder::Create(&tokenizer, templates, limits, marked));
  LMEYE_ASSIGN_OR_RETURN(*set, BuildExamples(*manifest, config.stage, builder, tokenizer,
                                             config.max_tokens, &manifest->issues, &align_prefix));
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

std::vector<std::pair<int, std::string>> IssueLines(const Manifest& manifest) {
  std::vector<std::pair<int, std::string>> out;
  for (const ManifestIssue& issue : manifest.issues) {
    out.emplace_back(issue.line, manifest.IssueText(issue));
  }
  return out;
}

}  // namespace

std::vector<std::string> StageParameterNames(AdapterLayout layout, TrainStage stage) {
  if (layout != AdapterLayout::kLingcloudV0) return StageParameterNames(stage);
  // The release: phase 1 (run_llm_pretrain.py) trains the image prompt; phase 2
  // (run_llm_instruction.py) freezes it and trains the rest.
  if (stage == TrainStage::kAlign) return {"embedding_img", "imgLinear.weight", "imgLinear.bias"};
  if (stage == TrainStage::kInstruct) {
    return {"embedding_imgd", "promptMlp.weight",  "promptMlp.bias", "llm2clip.weight",
            "llm2clip.bias",  "imgdLinear.weight", "imgdLinear.bias"};
  }
  return {};
}

std::vector<std::string> StageParameterNames(TrainStage stage) {
  if (stage == TrainStage::kAlign) return {"ipn.img_token", "ipn.align.weight", "ipn.align.bias"};
  if (stage == TrainStage::kInstruct) {
    return {"ipn.imgd_token",       "ipn.request.weight", "ipn.request.bias",
            "ipn.decompose.weight", "ipn.decompose.bias", "ipn.transmit.weight",
            "ipn.transmit.bias"};
  }
  return {};
}

absl::StatusOr<std::unique_ptr<IpnObjective>> IpnObjective::Create(const TrainConfig& config,
                                                                   std::ostream* log,
                                                                   DataParallelGroup* group) {
  auto objective = std::unique_ptr<IpnObjective>(new IpnObjective(config));
  LMEYE_RETURN_IF_ERROR(objective->Init(log, group));
  return objective;
}

absl::Status IpnObjective::Init(std::ostream* log, DataParallelGroup* group) {
  LmeyeLoadOptions load;
  LMEYE_ASSIGN_OR_RETURN(load.device, ParseDevice(config_.device));
  LMEYE_ASSIGN_OR_RETURN(model_, LmeyeModel::Load(config_.model, load));
  const IpnAdapterConfig& ac = model_->adapter_config();
  if (ac.layout == AdapterLayout::kLingcloudV01) {
    return absl::UnimplementedError(
        absl::StrCat(model_->dir().adapter_config_file(),
                     ": the align and instruct stages train the lmeye and lingcloud-v0 layouts; "
                     "training lingcloud-v0.1 is not supported (serve, verify and bench it)"));
  }
  LMEYE_ASSIGN_OR_RETURN(tokenizer_, LoadTokenizer(model_->dir().llm_dir()));
  if (ac.layout == AdapterLayout::kLingcloudV0) {
    LMEYE_RETURN_IF_ERROR(InitLingcloudV0(log));
  } else {
    LMEYE_RETURN_IF_ERROR(InitLmeyeAdapter());
  }
  return LoadAllData(log, group);
}

absl::Status IpnObjective::InitLingcloudV0(std::ostream* log) {
  LingcloudV0Config options = model_->adapter_config().lingcloud_v0;
  if (options.embedding_img_from != "embedding_img") {
    // The release trains with its embedding_img (only its inference loader reads
    // embedding_imgd in its place); the written adapter.json says so.
    LogTrainLine(log, absl::StrCat("embedding_img: training and then serving the stored "
                                   "embedding_img (adapter.json said ",
                                   options.embedding_img_from, ")"));
    options.embedding_img_from = "embedding_img";
    LMEYE_RETURN_IF_ERROR(model_->SetLingcloudV0Options(options));
  }
  LingcloudV0AdapterImpl& adapter = model_->lingcloud_v0()->adapter();
  if (!config_.adapter.empty()) {
    LMEYE_ASSIGN_OR_RETURN(LingcloudV0Adapter start,
                           LoadLingcloudV0Adapter(config_.adapter, adapter.dims(), at::kFloat));
    torch::NoGradGuard no_grad;
    auto src = start->named_parameters(/*recurse=*/true);
    for (auto& p : adapter.named_parameters(/*recurse=*/true)) p.value().copy_(src[p.key()]);
  }
  const std::vector<std::string> names =
      StageParameterNames(AdapterLayout::kLingcloudV0, config_.stage);
  const std::set<std::string> trained(names.begin(), names.end());
  LingcloudV0Adapter fresh(adapter.dims());
  if (config_.reinit) fresh->ResetParameters(config_.seed);
  auto fresh_params = fresh->named_parameters(/*recurse=*/true);
  torch::NoGradGuard no_grad;
  for (auto& p : adapter.named_parameters(/*recurse=*/true)) {
    const bool train = trained.count(p.key()) > 0;
    p.value().set_requires_grad(train);
    if (!train) continue;
    if (config_.reinit) p.value().copy_(fresh_params[p.key()]);
    trained_.emplace_back(p.key(), p.value());
  }
  return absl::OkStatus();
}

absl::Status IpnObjective::InitLmeyeAdapter() {
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
  return absl::OkStatus();
}

absl::Status IpnObjective::LoadAllData(std::ostream* log, DataParallelGroup* group) {
  const std::string preprocessor = model_->dir().preprocessor_config_file();
  Manifest manifest;
  FeatureCacheStats cache_stats;
  LMEYE_RETURN_IF_ERROR(LoadData(config_.data, config_, *model_, *tokenizer_, preprocessor, group,
                                 &data_, &features_, &manifest, &cache_stats));
  LogTrainLine(log, CacheLine(config_.data, cache_stats));
  LMEYE_RETURN_IF_ERROR(
      ReportSkippedLines(config_, config_.data, manifest.n_lines, IssueLines(manifest), log));
  if (data_.examples.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(config_.data, ": no training examples"));
  }
  LogTrainLine(log, absl::StrFormat("%s: %d examples, %d images", config_.data,
                                    data_.examples.size(), data_.images.size()));
  if (!config_.eval_data.empty()) {
    Manifest eval_manifest;
    FeatureCacheStats eval_stats;
    LMEYE_RETURN_IF_ERROR(LoadData(config_.eval_data, config_, *model_, *tokenizer_, preprocessor,
                                   group, &eval_data_, &eval_features_, &eval_manifest,
                                   &eval_stats));
    LogTrainLine(log, CacheLine(config_.eval_data, eval_stats));
    for (const ManifestIssue& issue : eval_manifest.issues) {
      LogTrainLine(log, absl::StrCat("eval: skipped ", eval_manifest.IssueText(issue)));
    }
  }
  return absl::OkStatus();
}

NamedTensors IpnObjective::checkpoint_tensors() const {
  NamedTensors out;
  if (const LingcloudV0Ipn* v0 = model_->lingcloud_v0(); v0 != nullptr) {
    for (const auto& p : v0->adapter().named_parameters(/*recurse=*/true)) {
      out.emplace_back(p.key(), p.value());
    }
    return out;
  }
  for (const auto& p : model_->adapter()->named_parameters(/*recurse=*/true)) {
    out.emplace_back(absl::StrCat("ipn.", p.key()), p.value());
  }
  return out;
}

absl::StatusOr<at::Tensor> IpnObjective::LossSum(absl::Span<const int64_t> examples) {
  std::vector<const TrainExample*> batch;
  batch.reserve(examples.size());
  for (int64_t i : examples) batch.push_back(&data_.examples[i]);
  return StageLossSum(*model_, config_.stage, MakeBatch(batch, features_));
}

std::string IpnObjective::accuracy_name() const {
  // The short-answer accuracy builds this project's prompts: not the v0 layout's.
  return config_.stage == TrainStage::kInstruct && config_.qa_max_answer_tokens > 0 &&
                 model_->lingcloud_v0() == nullptr
             ? "exact_match"
             : "";
}

absl::StatusOr<EvalSums> IpnObjective::EvaluateShard(int rank, int world, int batch_size) {
  if (eval_data_.examples.empty()) {
    return absl::FailedPreconditionError("no eval_data examples to evaluate");
  }
  torch::NoGradGuard no_grad;
  std::vector<const TrainExample*> mine;  // this shard's, for the short-answer accuracy below
  EvalSums sums;
  const int64_t n = static_cast<int64_t>(eval_data_.examples.size());
  for (const std::vector<int64_t>& rows : EvalShardBatches(n, rank, world, batch_size)) {
    std::vector<const TrainExample*> chunk;
    for (int64_t r : rows) chunk.push_back(&eval_data_.examples[r]);
    mine.insert(mine.end(), chunk.begin(), chunk.end());
    TrainBatch batch = MakeBatch(chunk, eval_features_);
    LMEYE_ASSIGN_OR_RETURN(at::Tensor loss, StageLossSum(*model_, config_.stage, batch));
    sums.loss_sum += loss.item<double>();
    sums.n_targets += static_cast<double>(batch.n_targets);
  }
  if (!accuracy_name().empty()) {
    LMEYE_ASSIGN_OR_RETURN(QaEvalResult qa,
                           EvaluateShortAnswers(*model_, *tokenizer_, mine, eval_features_,
                                                config_.qa_max_answer_tokens, batch_size));
    sums.n_scored = qa.n;
    sums.n_correct = qa.correct;
  }
  return sums;
}

absl::Status IpnObjective::WriteOutputs(std::ostream* log) {
  const std::string& out = config_.output_dir;
  if (const LingcloudV0Ipn* v0 = model_->lingcloud_v0(); v0 != nullptr) {
    const ModelDir dir(out, model_->adapter_config());
    LMEYE_RETURN_IF_ERROR(SaveLingcloudV0Adapter(v0->adapter(), dir.adapter_weights_file()));
    LMEYE_RETURN_IF_ERROR(CompleteModelDir(config_.model, out, model_->adapter_config(), {},
                                           /*adapter_written=*/true));
    // The options trained with (embedding_img), not the copy of the input's adapter.json.
    LMEYE_RETURN_IF_ERROR(WriteFileAtomically(dir.adapter_config_file(),
                                              IpnAdapterConfigToJson(model_->adapter_config())));
    LogTrainLine(log, absl::StrCat("wrote ", out,
                                   "/adapter.safetensors (lingcloud-v0; serve with: lmeye serve "
                                   "--model ",
                                   out, ")"));
    return absl::OkStatus();
  }
  LMEYE_RETURN_IF_ERROR(SaveIpnAdapter(
      model_->adapter(), ModelDir(out, model_->adapter_config()).adapter_weights_file()));
  LMEYE_RETURN_IF_ERROR(CompleteModelDir(config_.model, out, model_->adapter_config(), {},
                                         /*adapter_written=*/true));
  LogTrainLine(log, absl::StrCat("wrote ", out,
                                 "/adapter.safetensors (serve with: lmeye serve --model ", out, ")"));
  return absl::OkStatus();
}

}  // namespace lmeye
