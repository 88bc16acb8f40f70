// The load generator's inputs: image files (from files and directories) and questions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lmeye::client {

// Each path is a file (taken as is) or a directory (its .jpg/.jpeg/.png/.webp/.bmp files, not
// recursive, sorted by name). NOT_FOUND naming the path when one does not exist or a directory
// holds no image.
absl::StatusOr<std::vector<std::string>> ListImageFiles(const std::vector<std::string>& paths);

// Non-empty lines of `text`, trimmed; lines starting with '#' are comments.
std::vector<std::string> ParseQuestions(const std::string& text);

// Used when --questions is not given: short and long questions about any photograph.
const std::vector<std::string>& BuiltinQuestions();

}  // namespace lmeye::client
