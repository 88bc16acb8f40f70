#include "model/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // same cap as the reference implementation

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors file ", path, ": ", what));
}

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

absl::StatusOr<SafetensorsDType> ParseSafetensorsDType(absl::string_view s) {
  if (s == "F32") return SafetensorsDType::kF32;
  if (s == "F16") return SafetensorsDType::kF16;
  if (s == "BF16") return SafetensorsDType::kBF16;
  if (s == "I64") return SafetensorsDType::kI64;
  if (s == "I32") return SafetensorsDType::kI32;
  if (s == "I8") return SafetensorsDType::kI8;
  if (s == "U8") return SafetensorsDType::kU8;
  if (s == "BOOL") return SafetensorsDType::kBool;
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported dtype \"", s, "\" (supported: F32 F16 BF16 I64 I32 I8 U8 BOOL)"));
}

absl::string_view SafetensorsDTypeName(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF32:
      return "F32";
    case SafetensorsDType::kF16:
      return "F16";
    case SafetensorsDType::kBF16:
      return "BF16";
    case SafetensorsDType::kI64:
      return "I64";
    case SafetensorsDType::kI32:
      return "I32";
    case SafetensorsDType::kI8:
      return "I8";
    case SafetensorsDType::kU8:
      return "U8";
    case SafetensorsDType::kBool:
      return "BOOL";
  }
  return "?";
}

int64_t SafetensorsDTypeSize(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF32:
      return 4;
    case SafetensorsDType::kF16:
      return 2;
    case SafetensorsDType::kBF16:
      return 2;
    case SafetensorsDType::kI64:
      return 8;
    case SafetensorsDType::kI32:
      return 4;
    case SafetensorsDType::kI8:
      return 1;
    case SafetensorsDType::kU8:
      return 1;
    case SafetensorsDType::kBool:
      return 1;
  }
  return 1;
}

at::ScalarType ToScalarType(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF32:
      return at::kFloat;
    case SafetensorsDType::kF16:
      return at::kHalf;
    case SafetensorsDType::kBF16:
      return at::kBFloat16;
    case SafetensorsDType::kI64:
      return at::kLong;
    case SafetensorsDType::kI32:
      return at::kInt;
    case SafetensorsDType::kI8:
      return at::kChar;
    case SafetensorsDType::kU8:
      return at::kByte;
    case SafetensorsDType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

absl::StatusOr<SafetensorsDType> FromScalarType(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return SafetensorsDType::kF32;
    case at::kHalf:
      return SafetensorsDType::kF16;
    case at::kBFloat16:
      return SafetensorsDType::kBF16;
    case at::kLong:
      return SafetensorsDType::kI64;
    case at::kInt:
      return SafetensorsDType::kI32;
    case at::kChar:
      return SafetensorsDType::kI8;
    case at::kByte:
      return SafetensorsDType::kU8;
    case at::kBool:
      return SafetensorsDType::kBool;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("tensor dtype ", c10::toString(type), " cannot be stored in safetensors"));
  }
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open safetensors file ", path, ": ", ErrnoText()));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", ErrnoText()));
  }
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return Invalid(path,
                   absl::StrCat("file is ", size, " bytes, shorter than the 8-byte header length"));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("cannot mmap ", path, ": ", ErrnoText()));
  }
  file->map_ = static_cast<const uint8_t*>(map);
  file->map_size_ = size;

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->map_[i];
  if (header_len > size - 8) {
    return Invalid(path, absl::StrCat("header length ", header_len,
                                      " runs past the end of the file (", size, " bytes)"));
  }
  if (header_len > kMaxHeaderBytes) {
    return Invalid(path, absl::StrCat("header length ", header_len, " exceeds the 100 MiB limit"));
  }
  const char* header_begin = reinterpret_cast<const char*>(file->map_ + 8);
  nlohmann::json header = nlohmann::json::parse(header_begin, header_begin + header_len, nullptr,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded()) return Invalid(path, "header is not valid JSON");
  if (!header.is_object()) return Invalid(path, "header is not a JSON object");

  file->data_ = file->map_ + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return Invalid(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return Invalid(path,
                         absl::StrCat("__metadata__ value \"", m.key(), "\" is not a string"));
        }
        file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](absl::string_view what) {
      return Invalid(path, absl::StrCat("tensor \"", name, "\": ", what));
    };
    if (!v.is_object()) return bad("entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) return bad("missing string \"dtype\"");
    if (!v.contains("shape") || !v["shape"].is_array()) return bad("missing array \"shape\"");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2) {
      return bad("\"data_offsets\" is not a [begin, end] pair");
    }
    SafetensorsEntry e;
    e.name = name;
    auto dtype = ParseSafetensorsDType(v["dtype"].get<std::string>());
    if (!dtype.ok()) return bad(dtype.status().message());
    e.dtype = *dtype;
    // numel * itemsize with overflow checks: a hostile shape must not wrap around to match.
    uint64_t n_bytes = static_cast<uint64_t>(SafetensorsDTypeSize(e.dtype));
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) return bad("shape has a negative or non-integer dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return bad("dimension too large");
      if (dim != 0 && n_bytes > std::numeric_limits<uint64_t>::max() / dim)
        return bad("shape overflows");
      n_bytes *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"]) {
      if (!o.is_number_unsigned()) return bad("data_offsets are not non-negative integers");
    }
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.begin > e.end) return bad(absl::StrCat("data_offsets begin ", e.begin, " > end ", e.end));
    if (e.end > data_size) {
      return bad(absl::StrCat("data_offsets end ", e.end, " is past the data buffer (", data_size,
                              " bytes; file truncated?)"));
    }
    if (e.end - e.begin != n_bytes) {
      return bad(absl::StrCat("shape x itemsize is ", n_bytes, " bytes but data_offsets span ",
                              e.end - e.begin));
    }
    file->entries_.push_back(std::move(e));
  }
  std::sort(file->entries_.begin(), file->entries_.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  for (size_t i = 1; i < file->entries_.size(); ++i) {
    const auto& prev = file->entries_[i - 1];
    const auto& cur = file->entries_[i];
    if (cur.begin < prev.end) {
      return Invalid(path, absl::StrCat("tensor \"", cur.name, "\" [", cur.begin, ", ", cur.end,
                                        ") overlaps tensor \"", prev.name, "\" [", prev.begin, ", ",
                                        prev.end, ")"));
    }
  }
  for (size_t i = 0; i < file->entries_.size(); ++i) file->index_[file->entries_[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

bool SafetensorsFile::Contains(absl::string_view name) const { return Find(name) != nullptr; }

const SafetensorsEntry* SafetensorsFile::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

absl::StatusOr<at::Tensor> SafetensorsFile::Load(absl::string_view name) const {
  const SafetensorsEntry* e = Find(name);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat("tensor \"", name, "\" not found in ", path_));
  }
  at::Tensor t = at::empty(e->shape, at::TensorOptions().dtype(ToScalarType(e->dtype)));
  if (e->end > e->begin) std::memcpy(t.data_ptr(), data_ + e->begin, e->end - e->begin);
  return t;
}

absl::StatusOr<at::Tensor> SafetensorsFile::Load(absl::string_view name,
                                                 at::ScalarType dtype) const {
  LMEYE_ASSIGN_OR_RETURN(at::Tensor t, Load(name));
  if (t.scalar_type() == dtype) return t;
  return t.to(dtype);
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__")
      return absl::InvalidArgumentError("tensor name __metadata__ is reserved");
    if (header.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate tensor name \"", name, "\" writing ", path));
    }
    auto dtype = FromScalarType(tensor.scalar_type());
    if (!dtype.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", name, "\": ", dtype.status().message()));
    }
    at::Tensor c = tensor.detach().to(at::kCPU).contiguous();
    uint64_t n_bytes = static_cast<uint64_t>(c.numel()) * SafetensorsDTypeSize(*dtype);
    header[name] = {{"dtype", std::string(SafetensorsDTypeName(*dtype))},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + n_bytes}}};
    offset += n_bytes;
    contiguous.push_back(std::move(c));
  }
  std::string header_text = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  return WriteFileAtomically(path, [&](const ByteSink& sink) -> absl::Status {
    uint8_t len_bytes[8];
    const uint64_t len = header_text.size();
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(len >> (8 * i));
    bool ok = sink(len_bytes, 8) && sink(header_text.data(), header_text.size());
    for (const auto& c : contiguous) {
      if (!ok) break;
      ok = sink(c.data_ptr(), c.numel() * c.element_size());
    }
    return absl::OkStatus();  // a failed sink call is reported by WriteFileAtomically
  });
}

}  // namespace lmeye
