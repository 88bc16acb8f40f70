// File reading for tokenizer loaders: every error names the file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

// NotFound when `path` does not exist, InvalidArgument when it is not a readable regular file.
absl::StatusOr<std::string> ReadTokenizerFile(const std::string& path);

// ReadTokenizerFile + JSON parse; InvalidArgument naming the file and the parser's position.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

bool FileExists(const std::string& path);

}  // namespace lmeye
