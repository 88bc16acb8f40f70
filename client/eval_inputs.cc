#include "client/eval_inputs.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye::client {

namespace {

// VQAv2's questions file given alone fails as JSONL; say what is missing.
absl::Status WithVqaV2Hint(const absl::Status& status, const std::string& path) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  auto text = eval::ReadTextFile(path);
  if (!text.ok() || text->substr(0, 4096).find("\"questions\"") == std::string::npos) return status;
  return absl::InvalidArgumentError(
      absl::StrCat(status.message(), " (VQAv2 / OK-VQA questions files need --annotations)"));
}

}  // namespace

absl::StatusOr<eval::EvalDataset> LoadEvalDataset(const ClientOptions& options) {
  const EvalFlags& flags = options.eval;
  LMEYE_ASSIGN_OR_RETURN(const eval::EvalTask task, eval::ParseEvalTask(flags.task));
  eval::EvalDataset dataset;
  if (!flags.annotations.empty()) {
    LMEYE_ASSIGN_OR_RETURN(dataset, eval::ReadVqaV2Dataset(flags.data, flags.annotations));
  } else {
    absl::StatusOr<eval::EvalDataset> read = eval::ReadDataset(flags.data, task);
    if (!read.ok()) return WithVqaV2Hint(read.status(), flags.data);
    dataset = *std::move(read);
  }
  if (flags.limit && static_cast<int>(dataset.items.size()) > *flags.limit) {
    dataset.items.resize(*flags.limit);
  }
  if (dataset.items.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flags.data, ": no items"));
  }
  return dataset;
}

ImageLocator MakeImageLocator(const ClientOptions& options) {
  ImageLocator locator;
  locator.root = options.images.empty()
                     ? std::filesystem::path(options.eval.data).parent_path().string()
                     : options.images.front();
  locator.pattern = options.eval.image_pattern;
  return locator;
}

absl::StatusOr<std::string> ImagePathOf(const eval::EvalItem& item, const ImageLocator& locator) {
  std::string path = item.image;
  if (path.empty()) {
    if (locator.pattern.empty() || item.image_id.empty()) {
      return absl::NotFoundError("no image path in the data (--image-pattern names files by id)");
    }
    LMEYE_ASSIGN_OR_RETURN(path, ExpandImagePattern(locator.pattern, item.image_id));
  }
  const std::filesystem::path p(path);
  if (p.is_absolute() || locator.root.empty()) return path;
  return (std::filesystem::path(locator.root) / p).string();
}

absl::StatusOr<std::string> ExpandImagePattern(const std::string& pattern,
                                               const std::string& image_id) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    const size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      out += pattern.substr(i);
      break;
    }
    out += pattern.substr(i, open - i);
    const size_t close = pattern.find('}', open);
    const std::string field = close == std::string::npos
                                  ? pattern.substr(open)
                                  : pattern.substr(open + 1, close - open - 1);
    if (field == "image_id") {
      out += image_id;
    } else if (field.rfind("image_id:0", 0) == 0) {
      int width = 0;
      uint64_t number = 0;
      if (!absl::SimpleAtoi(field.substr(10), &width) || width <= 0 || width > 64) {
        return absl::InvalidArgumentError(
            absl::StrCat("--image-pattern: bad width in {", field, "}"));
      }
      if (!absl::SimpleAtoi(image_id, &number)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--image-pattern: image_id \"", image_id, "\" is not a number"));
      }
      std::string digits = absl::StrCat(number);
      if (static_cast<int>(digits.size()) < width) digits.insert(0, width - digits.size(), '0');
      out += digits;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--image-pattern: unknown field {", field,
                                                     "} (expected {image_id} or {image_id:0N})"));
    }
    i = close + 1;
  }
  return out;
}

std::string PredictionsPath(const ClientOptions& options) {
  return options.eval.predictions.empty() ? options.eval.task + "_predictions.json"
                                          : options.eval.predictions;
}

std::string ReportPath(const ClientOptions& options) {
  return options.eval.report.empty() ? options.eval.task + "_report.json" : options.eval.report;
}

}  // namespace lmeye::client
