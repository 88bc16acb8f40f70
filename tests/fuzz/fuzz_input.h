// Helpers shared by the fuzz targets (torch-free, header-only).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace lmeye::fuzz {

inline std::string AsString(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Splits a fuzz input into a selector byte (which of a parser's entry points to call) and the
// rest, so that one target covers a parser with several entry points and the mutator can move an
// input between them.
struct Selected {
  uint8_t selector = 0;
  std::string rest;
};
inline Selected Select(const uint8_t* data, size_t size) {
  if (size == 0) return {};
  return {data[0], AsString(data + 1, size - 1)};
}

// Draws typed values from the front of a fuzz input, for targets that build a structured input
// (a request proto) instead of parsing the bytes themselves. Past the end every draw is zero or
// empty, so any prefix of an input is still a complete input and the mutator's cuts stay
// meaningful. (libFuzzer's FuzzedDataProvider does the same but ships with clang only; the
// replay build uses any compiler.)
class FuzzReader {
 public:
  explicit FuzzReader(std::string bytes) : bytes_(std::move(bytes)) {}

  bool empty() const { return pos_ >= bytes_.size(); }

  uint8_t Byte() { return empty() ? 0 : static_cast<uint8_t>(bytes_[pos_++]); }
  bool Bool() { return (Byte() & 1) != 0; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | Byte();
    return v;
  }
  uint64_t U64() { return static_cast<uint64_t>(U32()) << 32 | U32(); }
  // One of `values` (an index byte), or with the high bit of that byte the raw next 4 bytes.
  template <size_t N>
  uint32_t U32From(const uint32_t (&values)[N]) {
    const uint8_t pick = Byte();
    if (pick & 0x80) return U32();
    return values[pick % N];
  }
  // A float that is one of `values` or, with the high bit of the index byte, any bit pattern
  // (NaN, infinities, denormals included).
  template <size_t N>
  float FloatFrom(const float (&values)[N]) {
    const uint8_t pick = Byte();
    if ((pick & 0x80) == 0) return values[pick % N];
    const uint32_t bits = U32();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  // A string of up to `max_size` bytes: a length byte (scaled to max_size) and that many bytes.
  std::string String(size_t max_size) {
    const size_t want = max_size * Byte() / 255;
    const size_t n = std::min(want, bytes_.size() - std::min(pos_, bytes_.size()));
    std::string out = bytes_.substr(std::min(pos_, bytes_.size()), n);
    pos_ += n;
    return out;
  }

 private:
  std::string bytes_;
  size_t pos_ = 0;
};

// For parsers that only read a path: the input written to a file of this process's own, reused
// for every input (a file per input would cost more than the parse). The path ends in `name`, so
// that parsers that look at the file name see the real one.
class TempFile {
 public:
  explicit TempFile(const std::string& name) {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/lmeye_fuzz_" +
           std::to_string(::getpid());
    path_ = dir_ + "/" + name;
  }
  ~TempFile() {
    std::remove(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Writes `bytes` to the file (creating its directory) and returns its path; aborts when it
  // cannot, as a fuzz run that parses nothing would be worse than none.
  const std::string& Write(const std::string& bytes) {
    ::mkdir(dir_.c_str(), 0700);
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
        std::fclose(f) != 0) {
      std::perror(path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace lmeye::fuzz
