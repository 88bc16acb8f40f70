// Precomputed frozen CLIP features on disk, reused across runs, epochs and stages (the reference
// code precomputes them too): the vision tower is frozen, so h_I of an image never changes.
//
// One safetensors file, written atomically:
//   "features"  [n, d_v] float32, row i = h_I of key i
//   metadata    format "lmeye-feature-cache", vision (what produced the rows: the vision
//               tower's config and weight files and the image_feature option, see
//               FeatureCacheId), keys (JSON list of "path|size|mtime_ns": an edited or
//               replaced image misses the cache)
// A cache of another vision tower or option is ignored (rebuilt, with a note), never mixed.
// Images the cache lacks are encoded and the file rewritten with the union; images that cannot
// be read are never cached (they are reported on every run).
//
// Data parallel: every rank calls it with the same images; the missing images are encoded in
// shards (rank r takes every W-th), shared with one all-reduce, and rank 0 writes the file while
// the others wait at a barrier. Failures encoded elsewhere name the rank that has the reason.
// The ranks must see the same files (one shared volume): the keys hold sizes and modification
// times, so copies made on each machine would differ between ranks.
// Not thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/ipn/lmeye_model.h"
#include "model/train/distributed.h"
#include "model/vision/image_preprocess.h"

namespace lmeye {

struct FeatureCacheStats {
  int hits = 0;     // rows read from the file
  int encoded = 0;  // rows computed now
  double encode_seconds = 0;
};

// What a cached row depends on: the vision tower's config.json text, its weight files (name,
// size and modification time of each *.safetensors) and adapter.json's image_feature, as one
// string.
absl::StatusOr<std::string> FeatureCacheId(const std::string& model_dir, const LmeyeModel& model);

// h_I of every path in `images` ([n, d_v] float32, CPU), from `cache_path` where it has them
// (empty path: no file) and from the model otherwise, in batches of `batch`. Unreadable images
// leave a zero row and are appended to `failed` (index, reason). `group`: null for one process.
absl::StatusOr<at::Tensor> CachedImageFeatures(
    const LmeyeModel& model, const ClipImagePreprocessor& preprocessor,
    const std::vector<std::string>& images, const std::string& cache_path,
    const std::string& cache_id, DataParallelGroup* group, int batch,
    std::vector<std::pair<int, std::string>>* failed, FeatureCacheStats* stats);

}  // namespace lmeye
