// A Hugging Face checkpoint directory's weights: `model.safetensors`, or the shards listed in
// `model.safetensors.index.json` (as real 7B/13B models ship). Tensor names are the HF keys.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/io/safetensors.h"

namespace lmeye {

class Checkpoint {
 public:
  // Opens `dir`/model.safetensors, or every shard named by `dir`/model.safetensors.index.json.
  // Every shard is validated; a name in the index but missing from its shard is an error.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);
  // A single safetensors file (e.g. adapter.safetensors).
  static absl::StatusOr<std::unique_ptr<Checkpoint>> OpenFile(const std::string& path);

  const std::string& location() const { return location_; }
  // Sorted tensor names.
  std::vector<std::string> names() const;
  bool Contains(absl::string_view name) const;
  const SafetensorsEntry* Find(absl::string_view name) const;
  // Loads tensor `name` converted to `dtype`.
  absl::StatusOr<at::Tensor> Load(absl::string_view name, at::ScalarType dtype) const;

 private:
  std::string location_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsFile*, std::less<>> owner_;  // name -> shard
};

}  // namespace lmeye
