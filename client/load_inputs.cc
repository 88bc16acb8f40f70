#include "client/load_inputs.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lmeye::client {

absl::StatusOr<std::vector<std::string>> ListImageFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_regular_file(path, error)) {
      files.push_back(path);
      continue;
    }
    if (!fs::is_directory(path, error)) {
      return absl::NotFoundError(
          absl::StrCat("--images: no such file or directory \"", path, "\""));
    }
    std::vector<std::string> in_dir;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      if (!entry.is_regular_file(error)) continue;
      const std::string ext = absl::AsciiStrToLower(entry.path().extension().string());
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".bmp") {
        in_dir.push_back(entry.path().string());
      }
    }
    if (in_dir.empty()) {
      return absl::NotFoundError(absl::StrCat("--images: no images in \"", path, "\""));
    }
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

std::vector<std::string> ParseQuestions(const std::string& text) {
  std::vector<std::string> questions;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    questions.emplace_back(line.data(), line.size());
  }
  return questions;
}

const std::vector<std::string>& BuiltinQuestions() {
  static const auto* questions = new std::vector<std::string>{
      "What is in this image?",
      "Describe the image in one sentence.",
      "What colors stand out?",
      "How many people are there?",
      "Where could this photo have been taken?",
      "What is the main object in the picture?",
      "Is it day or night?",
      "What is happening in this scene?",
  };
  return *questions;
}

}  // namespace lmeye::client
