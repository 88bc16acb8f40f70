// A Hugging Face checkpoint directory's weights: `model.safetensors`, or the shards listed in
// `model.safetensors.index.json` (as real 7B/13B models ship); failing those, the torch.save
// files older checkpoints carry: `pytorch_model.bin`, or the shards of
// `pytorch_model.bin.index.json`. Tensor names are the HF keys.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/io/safetensors.h"
#include "model/io/torch_checkpoint.h"

namespace lmeye {

// A tensor's dtype and shape, known without loading it.
struct CheckpointTensorInfo {
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;
};

class Checkpoint {
 public:
  // Opens the first of `dir`/model.safetensors, model.safetensors.index.json, pytorch_model.bin,
  // pytorch_model.bin.index.json that exists. Every shard is validated; a name in an index but
  // missing from its shard is an error.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);
  // A single safetensors file (e.g. adapter.safetensors).
  static absl::StatusOr<std::unique_ptr<Checkpoint>> OpenFile(const std::string& path);

  const std::string& location() const { return location_; }
  // Sorted tensor names.
  std::vector<std::string> names() const;
  bool Contains(absl::string_view name) const;
  // dtype and shape of `name` in any format; nullptr when absent.
  const CheckpointTensorInfo* Info(absl::string_view name) const;
  // The safetensors entry of `name`; nullptr when absent, and for the tensors of a
  // pytorch_model.bin (use Info).
  const SafetensorsEntry* Find(absl::string_view name) const;
  // Loads tensor `name` converted to `dtype`.
  absl::StatusOr<at::Tensor> Load(absl::string_view name, at::ScalarType dtype) const;

 private:
  struct Source {
    CheckpointTensorInfo info;
    const SafetensorsFile* safetensors = nullptr;  // one of these two
    const TorchCheckpoint* torch = nullptr;
    TorchTensorInfo torch_tensor;
  };
  using Sources = std::map<std::string, Source, std::less<>>;

  // Opens one file of either format and returns its tensors.
  absl::StatusOr<Sources> AddFile(const std::string& path, bool torch_format);
  static absl::StatusOr<std::unique_ptr<Checkpoint>> OpenIndexed(const std::string& dir,
                                                                 const std::string& index_path,
                                                                 bool torch_format);

  std::string location_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<std::unique_ptr<TorchCheckpoint>> torch_shards_;
  Sources tensors_;  // name -> where it is
};

}  // namespace lmeye
