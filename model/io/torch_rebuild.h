// What the pickles of torch.save mean: the allow-list of globals a checkpoint may name (torch's
// tensor-rebuilding functions, the storage types, collections.OrderedDict, dtypes, torch.Size) and
// the persistent ids that stand for storages. Unpickling with these rules turns every tensor into a
// record (storage, offset, shape, stride, requires_grad) without reading any tensor data, so a
// checkpoint can be listed, and its optimizer state skipped, at the cost of its pickle alone.
//
// No Python is run and nothing is imported: each allowed global maps to one C++ function below
// that checks its arguments and builds a value. Tensor extents are checked against their storages
// later (CheckTensorExtent), when the caller knows the tensor's name for the message.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/io/torch_pickle.h"

namespace lmeye {

// One storage a persistent id names. The bytes' location is filled in by the container format.
struct TorchStorage {
  std::string key;  // the file's storage key ("0", "1", ... or legacy memory addresses)
  at::ScalarType dtype = at::kFloat;
  int64_t numel = 0;  // elements, as the persistent id declares
  // Set by the format: where the numel * element-size bytes start in the file.
  uint64_t data_offset = 0;
  bool has_data = false;
  std::string member;  // zip format: the member holding the bytes (for messages)
  uint32_t crc32 = 0;  // zip format: checked before the first read
  bool check_crc32 = false;
};

// A tensor as _rebuild_tensor_v2 / _rebuild_parameter describe it.
struct TorchTensorRecord {
  size_t storage = 0;  // index into TorchRebuilder::storages()
  at::ScalarType dtype = at::kFloat;
  int64_t storage_offset = 0;  // elements
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;  // elements
  bool requires_grad = false;
  bool is_parameter = false;
};

// Storage type name ("HalfStorage") -> dtype; false for anything else.
bool TorchStorageDType(absl::string_view storage_type, at::ScalarType* dtype);

// The range of storage elements [begin, end) a tensor reads, or an error when the record does not
// fit `storage` (past its end, or more elements than it holds: a broadcast view would make a
// small file expand into a huge tensor).
struct TorchExtent {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t numel = 0;
};
absl::StatusOr<TorchExtent> CheckTensorExtent(const TorchTensorRecord& tensor,
                                              const TorchStorage& storage);

// Builds the storage and tensor records while a torch pickle is read. Not thread-safe; after the
// pickles are read its records are immutable.
class TorchRebuilder {
 public:
  enum class IdStyle {
    kZip,     // ('storage', type, key, location, numel)
    kLegacy,  // ('storage', type, key, location, numel, view_metadata)
  };
  // `on_new_storage` runs once per storage key, when first seen (the zip format locates the
  // member there); its error aborts unpickling. `max_storage_bytes` bounds what one storage may
  // declare (the file size: the bytes must be in the file).
  TorchRebuilder(IdStyle style, uint64_t max_storage_bytes,
                 std::function<absl::Status(TorchStorage&)> on_new_storage);
  TorchRebuilder(const TorchRebuilder&) = delete;
  TorchRebuilder& operator=(const TorchRebuilder&) = delete;

  // The allow-list and persistent-id handler for Unpickle. Valid while this object lives.
  const UnpickleOptions& options() const { return options_; }

  std::vector<TorchStorage>& storages() { return storages_; }
  const std::vector<TorchStorage>& storages() const { return storages_; }
  // Index of the storage with `key`, or -1.
  int64_t FindStorage(absl::string_view key) const;
  const std::vector<TorchTensorRecord>& tensors() const { return tensors_; }
  // The tensor record an unpickled value stands for, or nullptr when it is not a tensor.
  const TorchTensorRecord* TensorOf(const PickleValue* value) const;
  // Its index in tensors(), or -1.
  int64_t TensorIndex(const PickleValue* value) const;

 private:
  absl::StatusOr<PickleValue*> LoadStorage(PickleArena& arena, const PickleValue& pid);
  absl::StatusOr<PickleValue*> RebuildTensor(PickleArena& arena, const PickleValue& args);
  absl::StatusOr<PickleValue*> RebuildParameter(PickleArena& arena, const PickleValue& args);
  absl::StatusOr<PickleValue*> NewTensorValue(PickleArena& arena, TorchTensorRecord record);

  IdStyle style_;
  uint64_t max_storage_bytes_;
  std::function<absl::Status(TorchStorage&)> on_new_storage_;
  UnpickleOptions options_;
  std::vector<TorchStorage> storages_;
  std::unordered_map<std::string, size_t> storage_index_;
  std::unordered_map<const PickleValue*, size_t> storage_of_;  // storage value -> index
  std::vector<TorchTensorRecord> tensors_;
  std::unordered_map<const PickleValue*, size_t> tensor_of_;  // tensor value -> index
};

}  // namespace lmeye
