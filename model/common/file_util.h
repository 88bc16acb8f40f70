// Reading whole files: the config, index, vocabulary and golden files every loader opens. Every
// error names the file. No torch: the tokenizer library uses it too.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

// NotFound when `path` does not exist, InvalidArgument when it is not a readable regular file.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// ReadFileToString + JSON parse; InvalidArgument naming the file and the parser's position.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

bool FileExists(const std::string& path);

}  // namespace lmeye
