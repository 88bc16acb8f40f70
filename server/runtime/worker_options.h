// What one worker is built with (worker.h): the model, where it runs, its scheduler's budgets,
// image limits and caches. Torch-free and plain, so that the server config (server/modes/
// config.h) holds one as its section and hands each worker a copy.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/vision/image_probe.h"
#include "server/runtime/scheduler_options.h"

namespace lmeye {

struct WorkerOptions {
  std::string model_dir;       // an LMEye model directory (adapter.json, clip/, llm/)
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
  std::string dtype = "fp32";  // "fp32", "bf16", "fp16": the LLM's and towers' compute dtype
  SchedulerOptions scheduler;
  ImageLimits image_limits;
  int64_t image_cache_entries = 256;             // 0 disables the image feature cache
  int64_t image_cache_bytes = int64_t{1} << 28;  // 0: no byte budget
  int index = 0;  // this worker's number (metrics `worker` label, logs)

  // INVALID_ARGUMENT naming the field ("device", "dtype", "scheduler.max_running", ...). Defined
  // with the Worker (worker.cc): checking the device takes libtorch.
  absl::Status Validate() const;
};

}  // namespace lmeye
