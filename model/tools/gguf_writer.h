// A GGUF v3 file writer (the file format llama.cpp and ggml load; the layout is ggml's
// docs/gguf.md): the magic "GGUF", version 3, the tensor and key/value counts, the key/value
// pairs, the tensor infos (name, dimensions innermost first, ggml type, offset into the data),
// padding to `alignment`, then each tensor's bytes, each starting at a multiple of `alignment`.
// Little-endian throughout (this writer assumes a little-endian host, as ggml does).
//
// Memory: the header is built in memory; tensor bytes are asked for one tensor at a time while
// the file is written, so an export never holds more than one converted tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

// ggml's tensor types that the exporter writes (values are ggml's enum ggml_type).
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };

// GGUF key/value types (gguf_type).
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" as bytes in file order
inline constexpr uint32_t kGgufVersion = 3;
inline constexpr int64_t kQ8_0BlockSize = 32;  // values per Q8_0 block: one fp16 scale, 32 int8

const char* GgmlTypeName(GgmlType type);  // "f32", "f16", "q8_0", "bf16"
// "f32" | "f16" | "bf16" | "q8_0"; InvalidArgument listing them otherwise.
absl::StatusOr<GgmlType> ParseGgmlType(const std::string& name);
// Bytes of `n` consecutive values of `type` (one row). InvalidArgument when `n` is not a whole
// number of blocks (Q8_0: 32 values).
absl::StatusOr<uint64_t> GgmlRowBytes(GgmlType type, int64_t n);

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  void AddString(const std::string& key, const std::string& value);
  void AddUint32(const std::string& key, uint32_t value);
  void AddFloat32(const std::string& key, float value);
  void AddBool(const std::string& key, bool value);
  void AddStringArray(const std::string& key, const std::vector<std::string>& values);
  void AddFloat32Array(const std::string& key, const std::vector<float>& values);
  void AddInt32Array(const std::string& key, const std::vector<int32_t>& values);

  // A tensor of `type` with dimensions `ne`, innermost first (a row-major [rows, cols] matrix
  // is ne = {cols, rows}). InvalidArgument when a row is not whole blocks or a name repeats.
  absl::Status AddTensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne);

  // The bytes of tensor `index` (in AddTensor order), exactly its size.
  using TensorBytes = std::function<absl::StatusOr<std::string>(size_t index)>;
  // Writes the whole file atomically (WriteFileAtomically). Errors: I/O, a tensor's bytes of
  // the wrong size, or an error from `bytes` (the file is then not created).
  absl::Status Write(const std::string& path, const TensorBytes& bytes) const;

  size_t n_tensors() const { return tensors_.size(); }
  uint64_t tensor_bytes(size_t index) const { return tensors_[index].bytes; }
  const std::string& tensor_name(size_t index) const { return tensors_[index].name; }

 private:
  struct TensorInfo {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    uint64_t offset = 0;  // from the start of the data section
    uint64_t bytes = 0;
  };
  void Key(const std::string& key, GgufValueType type);

  uint32_t alignment_;
  uint64_t n_kv_ = 0;
  std::string kv_;  // the encoded key/value pairs
  std::vector<TensorInfo> tensors_;
  uint64_t data_bytes_ = 0;  // offset of the next tensor
};

}  // namespace lmeye
