// The image side of a worker: encoded image bytes -> what the scheduler's vision batch needs,
// on a small thread pool, so that decoding and CLIP preprocessing (milliseconds per photo)
// never stall the scheduler thread that owns the model.
//
// Per image: BLAKE2b digest of the bytes -> image feature cache lookup (a hit skips the rest)
// -> DecodeImage (limits applied) -> ClipImagePreprocessor. A bad image ends here with
// INVALID_ARGUMENT naming the field "image" and the decoder's message; the model is never
// touched.
//
// Threads: Prepare may be called from any thread; callbacks run on a pool thread, one per
// image, and must not block for long. Stop (also the destructor) lets queued images finish,
// then joins the threads; Prepare after Stop runs the callback with UNAVAILABLE on the caller's
// thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "model/ipn/image_cache.h"
#include "model/vision/image_preprocess.h"
#include "model/vision/image_probe.h"
#include "server/runtime/scheduler_observer.h"

namespace lmeye {

struct PreparedImage {
  ImageDigest digest;
  at::Tensor h_i;     // [d_v] from the image feature cache (a hit), else undefined
  at::Tensor pixels;  // [3, H, W] CLIP-normalised float32 (a miss), else undefined
  bool cache_hit() const { return h_i.defined(); }
};

class ImagePool {
 public:
  using Callback = std::function<void(absl::StatusOr<PreparedImage>)>;

  // `cache` (may be null: no caching) and `observer` (may be null) must outlive the pool.
  // n_threads >= 1.
  ImagePool(int n_threads, ClipImagePreprocessor preprocessor, ImageLimits limits,
            ImageFeatureCache* cache, SchedulerObserver* observer);
  ~ImagePool();

  ImagePool(const ImagePool&) = delete;
  ImagePool& operator=(const ImagePool&) = delete;

  // Queues `bytes` (must stay alive and unchanged until `done` has run).
  void Prepare(const std::string* bytes, Callback done);

  // Finishes the queued images and joins the threads. Idempotent.
  void Stop();

 private:
  struct Job {
    const std::string* bytes;
    Callback done;
  };

  void Run();
  absl::StatusOr<PreparedImage> PrepareOne(const std::string& bytes);

  const ClipImagePreprocessor preprocessor_;
  const ImageLimits limits_;
  ImageFeatureCache* const cache_;
  SchedulerObserver* const observer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;   // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace lmeye
