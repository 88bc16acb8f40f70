// Safetensors files: a memory-mapped, fully validated reader and an atomic writer.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data buffer; offsets are relative to the start of the buffer.
//
// The reader trusts nothing: header length within the file, valid JSON, known dtypes, shape x
// itemsize == byte span, offsets in bounds, sorted and non-overlapping. Every violation is an
// INVALID_ARGUMENT / DATA_LOSS status naming the file and the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "absl/strings/string_view.h"

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

enum class SafetensorsDType { kF32, kF16, kBF16, kI64, kI32, kI8, kU8, kBool };

// "F32" -> kF32 etc.; error for anything else (F64, I16, U16... are not accepted).
absl::StatusOr<SafetensorsDType> ParseSafetensorsDType(absl::string_view s);
absl::string_view SafetensorsDTypeName(SafetensorsDType dtype);
int64_t SafetensorsDTypeSize(SafetensorsDType dtype);
at::ScalarType ToScalarType(SafetensorsDType dtype);
absl::StatusOr<SafetensorsDType> FromScalarType(at::ScalarType type);

struct SafetensorsEntry {
  std::string name;
  SafetensorsDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data buffer, [begin, end)
  uint64_t end = 0;
};

// A read-only, memory-mapped safetensors file. Thread-safe after Open (all methods are const).
class SafetensorsFile {
 public:
  // Maps and validates `path`. Nothing in the file is trusted before this returns OK.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // In file order (sorted by offset).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Contains(absl::string_view name) const;
  const SafetensorsEntry* Find(absl::string_view name) const;

  // Copies tensor `name` out of the mapping into a new contiguous CPU tensor of its stored dtype.
  absl::StatusOr<at::Tensor> Load(absl::string_view name) const;
  // Same, converted to `dtype` (e.g. BF16 weights loaded as F32 for compute).
  absl::StatusOr<at::Tensor> Load(absl::string_view name, at::ScalarType dtype) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  const uint8_t* map_ = nullptr;  // whole file
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data buffer inside map_
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in entries_
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (name, tensor; names unique) to `path` atomically: a temporary file in the same
// directory, fsync, rename over `path`, fsync of the directory. Tensors are stored in their own
// dtype (must be one of the dtypes above), contiguous, in the given order.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace lmeye
