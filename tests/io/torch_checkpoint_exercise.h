// Everything a caller can ask of a torch checkpoint, for the fuzz test and the libFuzzer target:
// open it from bytes, list it, and load every tensor of every entry. Whatever the bytes, this
// must return (with errors counted), and no loaded tensor may be larger than the input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/io/torch_checkpoint.h"

namespace lmeye::testing {

struct ExerciseCounts {
  int64_t open_errors = 0;
  int64_t opened = 0;
  int64_t tensor_list_errors = 0;
  int64_t loaded = 0;
  int64_t load_errors = 0;
  int64_t oversized = 0;  // tensors larger than the input: must stay 0
};

inline void ExerciseTorchCheckpoint(std::string bytes, ExerciseCounts& counts) {
  const size_t size = bytes.size();
  auto ckpt = TorchCheckpoint::FromBytes("fuzz", std::move(bytes));
  if (!ckpt.ok()) {
    ++counts.open_errors;
    return;
  }
  ++counts.opened;
  std::vector<std::string> entries = {""};
  for (const TorchTopLevelEntry& e : (*ckpt)->TopLevel()) entries.push_back(e.key);
  for (const std::string& entry : entries) {
    TorchReadOptions options;
    options.strip_ddp_prefix = entry.size() % 2 == 1;  // both settings, deterministically
    auto infos = (*ckpt)->Tensors(entry, options);
    if (!infos.ok()) {
      ++counts.tensor_list_errors;
      continue;
    }
    for (const TorchTensorInfo& info : *infos) {
      auto tensor = (*ckpt)->Load(info);
      if (!tensor.ok()) {
        ++counts.load_errors;
        continue;
      }
      ++counts.loaded;
      if (tensor->nbytes() > size) ++counts.oversized;
    }
  }
}

}  // namespace lmeye::testing
