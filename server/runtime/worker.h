// A worker: one model replica on one device with its own scheduler thread (docs/DESIGN.md
// section 3).
// It owns the loaded LmeyeModel, the tokenizer (detokenizing for streaming, stop strings, EOS),
// the CLIP preprocessor, the image feature cache and the Scheduler (which owns the IPN engine,
// its KV cache and the image-decode threads).
//
// Torch-free on purpose: the gRPC edge includes this header without the libtorch headers.
//
// Threads: Submit, load, info and Drain may be called from any thread (see scheduler.h).
// Lifetime: the destructor drains with an immediate deadline.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/ipn/prompt.h"
#include "model/vision/image_probe.h"
#include "server/runtime/inference.h"
#include "server/runtime/scheduler_observer.h"
#include "server/runtime/scheduler_options.h"
#include "server/runtime/worker_options.h"

namespace lmeye {

class ClipImagePreprocessor;
class ImageFeatureCache;
class LmeyeModel;
class Scheduler;
class Tokenizer;

// What GetModelInfo reports about a worker's model.
struct WorkerModelInfo {
  std::string model_dir;
  std::string llm_family;        // "opt", "bloom", "llama"
  std::string llm_model_type;    // config.json model_type
  std::string llm_architecture;  // config.json architectures[0] (may be empty)
  std::string vision_backbone;   // adapter.json backbone directories, relative to model_dir
  std::string text_backbone;
  std::string llm_backbone;
  std::string dtype;   // "fp32", "bf16", "fp16"
  std::string device;  // "cpu", "cuda:0"
  int64_t vocab_size = 0;
  int64_t llm_width = 0;  // d_L
  int64_t llm_layers = 0;
  int64_t vision_width = 0;  // d_v
  int64_t text_width = 0;    // d_t
  int num_fine = 0;          // K
  std::string combine;       // "replace" or "add"
  int image_size = 0;        // CLIP input side in pixels
  int max_sequence_positions = 0;
  int max_running = 0;
  int64_t kv_capacity_tokens = 0;
  // "lmeye", "lingcloud-v0" (the released v0) or "lingcloud-v0.1" (the released BLIP-2 T5)
  std::string adapter_layout;
  // How the edge must lay prompts out for a layout whose templates carry the markers (v0, v0.1).
  std::optional<MarkedPromptOptions> marked_prompts;
};

struct WorkerLoad {
  int waiting = 0;
  int running = 0;
  int64_t kv_used_tokens = 0;
  int64_t kv_capacity_tokens = 0;
  int total() const { return waiting + running; }  // what the router balances
};

class Worker : public InferenceBackend {
 public:
  // Loads options.model_dir onto the device (minutes for a large model) and starts the
  // scheduler. `observer` (may be null) must outlive the worker.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(const WorkerOptions& options,
                                                        SchedulerObserver* observer = nullptr);

  // A worker over an already-loaded model, for tests and for replicas sharing the host copy:
  // `model` and `tokenizer` are borrowed and must outlive the worker; only one worker may use
  // a model at a time unless the model is immutable in serving (it is: inference only reads).
  // options.model_dir/device/dtype are only reported by info().
  static absl::StatusOr<std::unique_ptr<Worker>> CreateForModel(
      LmeyeModel* model, const Tokenizer* tokenizer, const ClipImagePreprocessor& preprocessor,
      const WorkerOptions& options, SchedulerObserver* observer = nullptr);

  ~Worker() override;

  // See InferenceBackend and Scheduler::Submit.
  absl::Status Submit(std::shared_ptr<InferenceCall> call) override;

  WorkerLoad load() const;
  const WorkerModelInfo& info() const { return info_; }
  // The model's tokenizer (thread-safe, tokenizer.h); the gRPC edge builds prompts with it.
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int index() const { return options_.index; }

  // Stops admitting (new submits get UNAVAILABLE), finishes in-flight work until `deadline`,
  // then ends what is left with UNAVAILABLE and stops the scheduler thread. Blocks until done;
  // idempotent. The worker stays valid (load/info work, Submit refuses) until destroyed.
  void Drain(absl::Time deadline);
  // Drain with no grace: in-flight requests end with UNAVAILABLE now.
  void Shutdown() { Drain(absl::Now()); }

 private:
  explicit Worker(const WorkerOptions& options);
  static absl::StatusOr<std::unique_ptr<Worker>> Start(std::unique_ptr<Worker> worker,
                                                       const ClipImagePreprocessor& preprocessor,
                                                       SchedulerObserver* observer);

  WorkerOptions options_;
  WorkerModelInfo info_;
  std::unique_ptr<LmeyeModel> owned_model_;  // Create only
  std::unique_ptr<Tokenizer> owned_tokenizer_;
  LmeyeModel* model_ = nullptr;
  const Tokenizer* tokenizer_ = nullptr;
  std::unique_ptr<ClipImagePreprocessor> preprocessor_;
  std::unique_ptr<ImageFeatureCache> image_cache_;
  std::unique_ptr<Scheduler> scheduler_;  // declared last: stopped first
};

}  // namespace lmeye
