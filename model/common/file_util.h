// Reading whole files (the config, index, vocabulary and golden files every loader opens) and
// writing them whole or not at all. Every error names the file. No torch: the tokenizer library
// uses it too.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// NotFound when `path` does not exist, InvalidArgument when it is not a readable regular file.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// ReadFileToString + JSON parse; InvalidArgument naming the file and the parser's position.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

bool FileExists(const std::string& path);

// Appends bytes to the file being written; false on a write error (errno says which).
using ByteSink = std::function<bool(const void* data, size_t n)>;

// Writes `path` whole or not at all, so that a reader (or a process restarted after a crash)
// never sees half a file: `write` streams the bytes into PATH.tmp.XXXXXX in the same folder,
// which is fsynced, made 0644 and renamed over `path`; the folder is fsynced too, so the rename
// survives a power cut. On any failure the temporary is removed and `path` is left as it was.
// A process killed mid-write leaves the temporary: see IsAtomicWriteTemporary.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(const ByteSink&)>& write);
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Whether `file_name` is a temporary WriteFileAtomically leaves when killed (NAME.tmp.XXXXXX).
bool IsAtomicWriteTemporary(absl::string_view file_name);

}  // namespace lmeye
