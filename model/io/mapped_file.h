// A file's bytes, read-only: memory-mapped from disk (a multi-GB checkpoint is then paged in only
// where tensors are read), or owned in memory (tests and fuzzing feed bytes without a file).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

class MappedFile {
 public:
  // NOT_FOUND when `path` cannot be opened; a directory or unreadable file is INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  // `label` stands in for the path in messages.
  static std::unique_ptr<MappedFile> FromBytes(std::string label, std::string bytes);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  // Valid for the object's lifetime. Thread-safe.
  absl::string_view bytes() const { return bytes_; }

 private:
  MappedFile() = default;

  std::string path_;
  std::string owned_;    // FromBytes
  void* map_ = nullptr;  // Open of a non-empty file
  size_t map_size_ = 0;
  absl::string_view bytes_;
};

}  // namespace lmeye
