#include "server/runtime/worker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/device.h"
#include "model/common/status_macros.h"
#include "model/ipn/image_cache.h"
#include "model/ipn/lmeye_model.h"
#include "model/ipn/marked_prompt.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/vision/image_preprocess.h"
#include "server/runtime/scheduler.h"

namespace lmeye {

absl::Status WorkerOptions::Validate() const {
  LMEYE_RETURN_IF_ERROR(ParseModelDtype(dtype).status());
  LMEYE_RETURN_IF_ERROR(ParseDevice(device).status());
  LMEYE_RETURN_IF_ERROR(scheduler.Validate());
  ImageCacheOptions cache;
  cache.max_entries = image_cache_entries;
  cache.max_bytes = image_cache_bytes;
  return cache.Validate();
}

namespace {

// What a worker serves, for GetModelInfo and the edge's prompts.
WorkerModelInfo ModelInfoOf(const LmeyeModel& model) {
  WorkerModelInfo info;
  const IpnAdapterConfig& adapter = model.adapter_config();
  info.vision_backbone = adapter.vision;
  info.text_backbone = adapter.text;
  info.llm_backbone = adapter.llm;
  info.llm_width = model.dims().d_l;
  info.vision_width = model.dims().d_v;
  info.text_width = model.dims().d_t;
  info.num_fine = static_cast<int>(model.dims().k);
  if (const LingcloudV01Model* v01 = model.lingcloud_v01(); v01 != nullptr) {
    const T5Config& t5 = v01->t5().config();
    info.llm_family = "t5";
    info.llm_model_type = "t5";
    info.llm_architecture = "Blip2ForConditionalGeneration";
    info.dtype = DtypeName(v01->t5().dtype());
    info.device = v01->t5().device().str();
    info.vocab_size = t5.vocab_size;
    info.llm_layers = t5.n_layers;
    info.adapter_layout = "lingcloud-v0.1";
    info.marked_prompts = LingcloudV01MarkedPrompts(adapter.lingcloud_v0_1);
    return info;
  }
  const LlmConfig& llm = model.llm().config();
  info.llm_family = LlmFamilyName(llm.family);
  info.llm_model_type = llm.model_type;
  info.llm_architecture = llm.architecture;
  info.dtype = ModelDtypeName({model.llm().dtype(), model.llm().int8_weights()});
  info.device = model.llm().device().str();
  info.vocab_size = llm.vocab_size;
  info.llm_layers = llm.n_layers;
  info.combine = adapter.combine == IpnCombine::kAdd ? "add" : "replace";
  info.adapter_layout = "lmeye";
  if (adapter.layout == AdapterLayout::kLingcloudV0) {
    const LingcloudV0Config& v0 = adapter.lingcloud_v0;
    info.adapter_layout = "lingcloud-v0";
    info.num_fine = v0.query_len;
    info.combine = "";
    info.marked_prompts = LingcloudV0MarkedPrompts(v0);
  }
  return info;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options,
                                                       SchedulerObserver* observer) {
  LMEYE_RETURN_IF_ERROR(options.Validate());
  LmeyeLoadOptions load;
  LMEYE_ASSIGN_OR_RETURN(ModelDtype dtype, ParseModelDtype(options.dtype));
  load.dtype = dtype.compute;
  load.int8_weights = dtype.int8_weights;
  LMEYE_ASSIGN_OR_RETURN(load.device, ParseDevice(options.device));
  std::unique_ptr<Worker> worker(new Worker(options));
  LMEYE_ASSIGN_OR_RETURN(worker->owned_model_, LmeyeModel::Load(options.model_dir, load));
  const ModelDir& dir = worker->owned_model_->dir();
  LMEYE_ASSIGN_OR_RETURN(worker->owned_tokenizer_, LoadTokenizer(dir.llm_dir()));
  LMEYE_ASSIGN_OR_RETURN(ClipImagePreprocessor preprocessor,
                         ClipImagePreprocessor::FromFile(dir.preprocessor_config_file()));
  worker->model_ = worker->owned_model_.get();
  worker->tokenizer_ = worker->owned_tokenizer_.get();
  return Start(std::move(worker), preprocessor, observer);
}

absl::StatusOr<std::unique_ptr<Worker>> Worker::CreateForModel(
    LmeyeModel* model, const Tokenizer* tokenizer, const ClipImagePreprocessor& preprocessor,
    const WorkerOptions& options, SchedulerObserver* observer) {
  if (model == nullptr || tokenizer == nullptr) {
    return absl::InvalidArgumentError("Worker: needs a model and a tokenizer");
  }
  LMEYE_RETURN_IF_ERROR(options.scheduler.Validate());
  std::unique_ptr<Worker> worker(new Worker(options));
  worker->model_ = model;
  worker->tokenizer_ = tokenizer;
  return Start(std::move(worker), preprocessor, observer);
}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Start(std::unique_ptr<Worker> worker,
                                                      const ClipImagePreprocessor& preprocessor,
                                                      SchedulerObserver* observer) {
  const WorkerOptions& options = worker->options_;
  worker->preprocessor_ = std::make_unique<ClipImagePreprocessor>(preprocessor);
  ImageCacheOptions cache;
  cache.max_entries = options.image_cache_entries;
  cache.max_bytes = options.image_cache_bytes;
  LMEYE_RETURN_IF_ERROR(cache.Validate());
  worker->image_cache_ = std::make_unique<ImageFeatureCache>(cache);

  WorkerModelInfo& info = worker->info_;
  info = ModelInfoOf(*worker->model_);
  info.model_dir = options.model_dir;
  info.image_size = preprocessor.config().crop_height;

  SchedulerDeps deps;
  deps.model = worker->model_;
  deps.tokenizer = worker->tokenizer_;
  deps.preprocessor = worker->preprocessor_.get();
  deps.image_cache = worker->image_cache_.get();
  deps.image_limits = options.image_limits;
  deps.observer = observer;
  deps.worker_index = options.index;
  LMEYE_ASSIGN_OR_RETURN(worker->scheduler_, Scheduler::Create(options.scheduler, deps));
  // What the scheduler runs with: max_sequence_positions within the model's position table.
  const SchedulerOptions& running = worker->scheduler_->options();
  info.max_sequence_positions = running.max_sequence_positions;
  info.max_running = running.max_running;
  info.kv_capacity_tokens = running.kv_budget_tokens();
  return worker;
}

Worker::Worker(const WorkerOptions& options) : options_(options) {}

Worker::~Worker() {
  if (scheduler_ != nullptr) scheduler_->Drain(absl::Now());
}

absl::Status Worker::Submit(std::shared_ptr<InferenceCall> call) {
  return scheduler_->Submit(std::move(call));
}

WorkerLoad Worker::load() const {
  const SchedulerLoad s = scheduler_->load();
  WorkerLoad load;
  load.waiting = s.waiting;
  load.running = s.running;
  load.kv_used_tokens = s.kv_used_tokens;
  load.kv_capacity_tokens = s.kv_capacity_tokens;
  return load;
}

void Worker::Drain(absl::Time deadline) { scheduler_->Drain(deadline); }

}  // namespace lmeye
