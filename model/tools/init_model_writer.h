// The writing half of `lmeye init-model` (init_model.h), shared by every directory layout it
// writes: tensor tables taken from the modules themselves, random safetensors streamed one chunk
// at a time, and the staging directory that is renamed into place only once complete.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/tools/init_model_presets.h"

namespace lmeye::init_model_io {

const char* TorchDTypeName(InitDType d);  // config.json's torch_dtype: "float32", ...
at::ScalarType ScalarTypeOf(InitDType d);

// How a tensor is initialised (see SpecsOf).
enum class Fill {
  kNormal,      // normal(0, 0.02): embedding tables, CLIP's class embedding
  kFanIn,       // normal(0, 1/sqrt(fan_in)): linear and convolution weights
  kZeros,       // biases
  kOnes,        // norm weights
  kSmall,       // constant 0.02: BLOOM's embedding layer norm weight (see LlmSpecs)
  kLogitScale,  // CLIP's temperature
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  Fill fill = Fill::kNormal;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// Every parameter of `root`, named as the checkpoint keys, sorted by name (fills in the .cc).
std::vector<TensorSpec> SpecsOf(torch::nn::Module& root);
int64_t CountOf(const std::vector<TensorSpec>& specs);
// Both CLIP towers, their projections and logit_scale.
absl::StatusOr<std::vector<TensorSpec>> ClipSpecs(const ClipPreset& preset);

// `specs` (sorted by name) as one safetensors file of random values in `dtype`, reproducible from
// `seed` per tensor name; peak memory is one chunk, whatever the file size.
absl::Status WriteRandomSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                                    at::ScalarType dtype, uint64_t seed);
// The same in `dir` as model.safetensors, or as Hugging Face shards + index above
// `max_shard_bytes`. Returns the number of weight files.
absl::StatusOr<int> WriteLlmWeights(const std::string& dir, const std::vector<TensorSpec>& specs,
                                    at::ScalarType dtype, uint64_t seed, int64_t max_shard_bytes);
// Written and fsynced (the staging directory is published only after every file is durable).
absl::Status WriteText(const std::string& path, const std::string& text);
absl::Status WriteJson(const std::string& path, const nlohmann::json& value);

// FailedPrecondition for a non-empty `out` without `force`, or with `force` where `out` is not an
// LMEye model directory (nothing is deleted then).
absl::Status CheckOutDir(const std::string& out, bool force);
std::string StripSlashes(std::string s);
absl::StatusOr<std::string> MakeTempDir(const std::string& pattern_prefix);
void SyncDir(const std::string& dir);
// Moves the finished staging directory to `out`, replacing an empty or (force) old model dir.
absl::Status Publish(const std::string& staging, const std::string& out, bool force);
int64_t DirBytes(const std::string& dir);
// How every init-model variant writes `out`: `write` fills a staging directory made beside `out`
// (same file system, so the final rename is atomic), which is then made 0755, fsynced and
// published (Publish); on any failure the staging directory is removed. Returns the bytes
// written.
absl::StatusOr<int64_t> WriteStaged(const std::string& out, bool force,
                                    const std::function<absl::Status(const std::string&)>& write);

}  // namespace lmeye::init_model_io
