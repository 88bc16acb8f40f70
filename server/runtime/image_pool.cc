#include "server/runtime/image_pool.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/runtime.h"
#include "model/common/status_macros.h"
#include "model/vision/image_decode.h"

namespace lmeye {

ImagePool::ImagePool(int n_threads, ClipImagePreprocessor preprocessor, ImageLimits limits,
                     ImageFeatureCache* cache, SchedulerObserver* observer)
    : preprocessor_(std::move(preprocessor)), limits_(limits), cache_(cache), observer_(observer) {
  if (n_threads < 1) n_threads = 1;
  for (int i = 0; i < n_threads; ++i) threads_.emplace_back([this] { Run(); });
}

ImagePool::~ImagePool() { Stop(); }

void ImagePool::Prepare(const std::string* bytes, Callback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      jobs_.push_back(Job{bytes, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("image pool: stopped"));
}

void ImagePool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ImagePool::Run() {
  KeepAtenOpsOnThisThread();  // the scheduler owns the intra-op threads; images run in parallel
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to finish
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    absl::StatusOr<PreparedImage> image = absl::InternalError("image: not prepared");
    try {
      image = PrepareOne(*job.bytes);
    } catch (const std::exception& e) {
      // OpenCV or ATen throwing past their Status wrappers must not take the server down.
      image = absl::InternalError(absl::StrCat("image preparation failed: ", e.what()));
    }
    job.done(std::move(image));
  }
}

absl::StatusOr<PreparedImage> ImagePool::PrepareOne(const std::string& bytes) {
  PreparedImage image;
  if (bytes.empty()) return absl::InvalidArgumentError("image: empty");
  image.digest = HashImageBytes(bytes);
  if (cache_ != nullptr && cache_->options().max_entries > 0) {
    std::optional<ImageFeatures> cached = cache_->Lookup(image.digest);
    if (observer_ != nullptr) observer_->OnImageCacheLookup(cached.has_value());
    if (cached) {
      image.h_i = cached->h_I;
      return image;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto rgb = DecodeImage(bytes, limits_);
  if (!rgb.ok()) {
    // Whatever the decoder says (corrupt, truncated, too large), the client sent a bad image.
    return absl::InvalidArgumentError(absl::StrCat("image: ", rgb.status().message()));
  }
  auto pixels = preprocessor_.Preprocess(*rgb);
  if (!pixels.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("image: ", pixels.status().message()));
  }
  image.pixels = *std::move(pixels);
  if (observer_ != nullptr) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    observer_->OnBatch(SchedulerPhase::kImageDecode, 1, 0, seconds);
  }
  return image;
}

}  // namespace lmeye
