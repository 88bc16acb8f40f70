// Helpers shared by the fuzz targets (torch-free, header-only).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

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
