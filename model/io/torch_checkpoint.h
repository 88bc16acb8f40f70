// PyTorch checkpoints (torch.save files: a LingCloud .pth, a Hugging Face pytorch_model.bin) read
// in C++, without Python. Both of torch's layouts:
//  - zip (torch >= 1.6 default): `<archive>/data.pkl` plus one stored member `<archive>/data/<key>`
//    per storage;
//  - legacy (`_use_new_zipfile_serialization=False`, as LingCloud's training scripts save): five
//    pickles in a row (magic number, protocol version 1001, system info, the object, the sorted
//    storage keys), then each storage's bytes behind an int64 element count.
// The object is unpickled by a restricted unpickler (torch_pickle.h) under torch's rules
// (torch_rebuild.h): nothing is executed, and any global outside the allow-list is an error naming
// it. Opening reads the pickles only; tensor data is copied out of the memory-mapped file when a
// tensor is loaded, so listing a multi-GB checkpoint, or skipping its optimizer state, is cheap.
//
// Every error names the file, and the tensor or zip member at fault; a corrupt or truncated file
// is an error, never a crash, and no allocation exceeds what the file itself holds.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/io/mapped_file.h"
#include "model/io/torch_pickle.h"
#include "model/io/torch_rebuild.h"

namespace lmeye {

enum class TorchFormat { kZip, kLegacy };

// One tensor of a state dict, described without reading its data.
struct TorchTensorInfo {
  std::string name;  // the dict key (DDP's "module." removed when asked)
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;
  bool requires_grad = false;
  bool is_parameter = false;  // saved as a torch.nn.Parameter
  std::string storage_key;    // tensors that share a storage (views, tied weights) share this
  size_t record = 0;          // which tensor of the file (TorchCheckpoint::Load reads it)
};

struct TorchReadOptions {
  // DistributedDataParallel saves every name as "module." + name; drop that prefix.
  bool strip_ddp_prefix = false;
};

// A top-level entry of a checkpoint dict: {'net': ..., 'optimizer': ..., 'epoch': 4}.
struct TorchTopLevelEntry {
  std::string key;
  std::string summary;  // "dict of 10 tensors", "dict (2 entries)", "int 4", ...
};

// An open checkpoint. Thread-safe after Open: all methods are const.
class TorchCheckpoint {
 public:
  // Maps `path` and reads its pickles. NOT_FOUND for a missing file, INVALID_ARGUMENT for
  // anything malformed.
  static absl::StatusOr<std::unique_ptr<TorchCheckpoint>> Open(const std::string& path);
  // The same from bytes in memory; `label` stands in for the path in messages.
  static absl::StatusOr<std::unique_ptr<TorchCheckpoint>> FromBytes(std::string label,
                                                                    std::string bytes);

  const std::string& path() const { return file_->path(); }
  TorchFormat format() const { return format_; }

  // The entries of the saved dict in file order; empty when the file holds something else.
  std::vector<TorchTopLevelEntry> TopLevel() const;

  // The tensors of one dict in file order: the saved dict itself for `entry` "" (a plain state
  // dict such as pytorch_model.bin), or the dict under top-level key `entry` ("net"). Every value
  // must be a tensor, and every tensor must lie inside its storage; errors name the key.
  absl::StatusOr<std::vector<TorchTensorInfo>> Tensors(absl::string_view entry,
                                                       const TorchReadOptions& options = {}) const;

  // Copies one tensor out of the file into a new contiguous CPU tensor of its saved dtype
  // (`info` from Tensors()). Checks the zip member's CRC-32 on the first read of each storage.
  absl::StatusOr<at::Tensor> Load(const TorchTensorInfo& info) const;

 private:
  TorchCheckpoint() = default;
  absl::Status Parse();
  absl::Status ParseZip();
  absl::Status ParseLegacy();

  std::unique_ptr<MappedFile> file_;
  TorchFormat format_ = TorchFormat::kZip;
  std::unique_ptr<PickleArena> arena_;
  std::unique_ptr<TorchRebuilder> rebuilder_;
  const PickleValue* root_ = nullptr;
  // Storages whose CRC has been checked (zip), one flag per storage; set once, read racily but
  // benignly (two threads may both check).
  std::unique_ptr<std::atomic<bool>[]> crc_checked_;
};

// A state dict loaded whole.
struct TorchNamedTensor {
  std::string name;
  at::Tensor tensor;  // contiguous, CPU, saved dtype
  bool requires_grad = false;
};
using TorchStateDict = std::vector<TorchNamedTensor>;

// Opens `path` and loads every tensor of `entry` ("" for a plain state dict, "net" for
// LingCloud's checkpoints), in file order.
absl::StatusOr<TorchStateDict> ReadTorchCheckpoint(const std::string& path, absl::string_view entry,
                                                   const TorchReadOptions& options = {});

}  // namespace lmeye
