#include "model/tools/gguf_writer.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

template <typename T>
void Put(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

// gguf_string: uint64 length, then the bytes (no terminator).
void PutString(std::string* out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  out->append(s);
}

uint64_t AlignUp(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

const char* GgmlTypeName(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return "f32";
    case GgmlType::kF16:
      return "f16";
    case GgmlType::kQ8_0:
      return "q8_0";
    case GgmlType::kBF16:
      return "bf16";
  }
  return "?";
}

absl::StatusOr<GgmlType> ParseGgmlType(const std::string& name) {
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0}) {
    if (name == GgmlTypeName(t)) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown GGUF tensor type \"", name, "\" (valid: f32, f16, bf16, q8_0)"));
}

absl::StatusOr<uint64_t> GgmlRowBytes(GgmlType type, int64_t n) {
  if (n < 0) return absl::InvalidArgumentError("negative row length");
  switch (type) {
    case GgmlType::kF32:
      return static_cast<uint64_t>(n) * 4;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return static_cast<uint64_t>(n) * 2;
    case GgmlType::kQ8_0:
      if (n % kQ8_0BlockSize != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("q8_0 rows must be a multiple of ", kQ8_0BlockSize, " values, not ", n));
      }
      return static_cast<uint64_t>(n / kQ8_0BlockSize) * (2 + kQ8_0BlockSize);
  }
  return absl::InvalidArgumentError("unknown ggml type");
}

void GgufWriter::Key(const std::string& key, GgufValueType type) {
  ++n_kv_;
  PutString(&kv_, key);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(type));
}

void GgufWriter::AddString(const std::string& key, const std::string& value) {
  Key(key, GgufValueType::kString);
  PutString(&kv_, value);
}

void GgufWriter::AddUint32(const std::string& key, uint32_t value) {
  Key(key, GgufValueType::kUint32);
  Put<uint32_t>(&kv_, value);
}

void GgufWriter::AddFloat32(const std::string& key, float value) {
  Key(key, GgufValueType::kFloat32);
  Put<float>(&kv_, value);
}

void GgufWriter::AddBool(const std::string& key, bool value) {
  Key(key, GgufValueType::kBool);
  Put<uint8_t>(&kv_, value ? 1 : 0);
}

void GgufWriter::AddStringArray(const std::string& key, const std::vector<std::string>& values) {
  Key(key, GgufValueType::kArray);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(GgufValueType::kString));
  Put<uint64_t>(&kv_, values.size());
  for (const std::string& v : values) PutString(&kv_, v);
}

void GgufWriter::AddFloat32Array(const std::string& key, const std::vector<float>& values) {
  Key(key, GgufValueType::kArray);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(GgufValueType::kFloat32));
  Put<uint64_t>(&kv_, values.size());
  for (float v : values) Put<float>(&kv_, v);
}

void GgufWriter::AddInt32Array(const std::string& key, const std::vector<int32_t>& values) {
  Key(key, GgufValueType::kArray);
  Put<uint32_t>(&kv_, static_cast<uint32_t>(GgufValueType::kInt32));
  Put<uint64_t>(&kv_, values.size());
  for (int32_t v : values) Put<int32_t>(&kv_, v);
}

absl::Status GgufWriter::AddTensor(const std::string& name, GgmlType type,
                                   const std::vector<int64_t>& ne) {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " twice"));
  }
  if (ne.empty() || ne.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, ": 1 to 4 dimensions"));
  }
  absl::StatusOr<uint64_t> row = GgmlRowBytes(type, ne[0]);
  if (!row.ok())
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", row.status().message()));
  uint64_t bytes = *row;
  for (size_t i = 1; i < ne.size(); ++i) bytes *= static_cast<uint64_t>(ne[i]);
  TensorInfo info{name, type, ne, data_bytes_, bytes};
  data_bytes_ = AlignUp(data_bytes_ + bytes, alignment_);
  tensors_.push_back(std::move(info));
  return absl::OkStatus();
}

absl::Status GgufWriter::Write(const std::string& path, const TensorBytes& bytes) const {
  std::string header;
  Put<uint32_t>(&header, kGgufMagic);
  Put<uint32_t>(&header, kGgufVersion);
  Put<uint64_t>(&header, tensors_.size());
  Put<uint64_t>(&header, n_kv_);
  header += kv_;
  for (const TensorInfo& t : tensors_) {
    PutString(&header, t.name);
    Put<uint32_t>(&header, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) Put<uint64_t>(&header, static_cast<uint64_t>(d));
    Put<uint32_t>(&header, static_cast<uint32_t>(t.type));
    Put<uint64_t>(&header, t.offset);
  }
  header.resize(AlignUp(header.size(), alignment_), '\0');
  return WriteFileAtomically(path, [&](const ByteSink& sink) -> absl::Status {
    auto io_error = [&]() {
      return absl::InternalError(absl::StrCat("writing ", path, ": ", std::strerror(errno)));
    };
    if (!sink(header.data(), header.size())) return io_error();
    uint64_t written = 0;
    const std::string zeros(alignment_, '\0');
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const TensorInfo& t = tensors_[i];
      LMEYE_ASSIGN_OR_RETURN(std::string data, bytes(i));
      if (data.size() != t.bytes) {
        return absl::InternalError(absl::StrCat("tensor ", t.name, ": ", data.size(),
                                                " bytes given, ", t.bytes, " expected"));
      }
      if (!sink(data.data(), data.size())) return io_error();
      written += data.size();
      const uint64_t pad = AlignUp(written, alignment_) - written;
      if (pad > 0 && !sink(zeros.data(), pad)) return io_error();
      written += pad;
    }
    return absl::OkStatus();
  });
}

}  // namespace lmeye
