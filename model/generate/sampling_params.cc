#include "model/generate/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace lmeye {

absl::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kLength:
      return "length";
  }
  return "unknown";
}

namespace {

absl::Status CheckEosIds(const std::vector<int64_t>& ids) {
  for (int64_t id : ids) {
    if (id < 0) return absl::InvalidArgumentError(absl::StrCat("eos_token_ids: negative id ", id));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SamplingParams::Validate() const {
  // !(x >= 0) also rejects NaN.
  if (!(temperature >= 0.0) || !std::isfinite(temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be a finite number >= 0, got ", temperature));
  }
  if (top_k < 0) return absl::InvalidArgumentError(absl::StrCat("top_k must be >= 0, got ", top_k));
  if (!(top_p > 0.0 && top_p <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", top_p));
  }
  if (!(repetition_penalty > 0.0) || !std::isfinite(repetition_penalty)) {
    return absl::InvalidArgumentError(
        absl::StrCat("repetition_penalty must be a finite number > 0, got ", repetition_penalty));
  }
  if (max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens must be >= 1, got ", max_new_tokens));
  }
  if (stop.size() > static_cast<size_t>(kMaxStopStrings)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stop: at most ", kMaxStopStrings, " strings, got ", stop.size()));
  }
  for (size_t i = 0; i < stop.size(); ++i) {
    if (stop[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("stop[", i, "] is empty"));
    }
    if (stop[i].size() > static_cast<size_t>(kMaxStopStringBytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("stop[", i, "] is longer than ", kMaxStopStringBytes, " bytes"));
    }
  }
  return CheckEosIds(eos_token_ids);
}

absl::Status BeamSearchParams::Validate() const {
  if (num_beams < 1) {
    return absl::InvalidArgumentError(absl::StrCat("num_beams must be >= 1, got ", num_beams));
  }
  if (!std::isfinite(length_penalty)) {
    return absl::InvalidArgumentError("length_penalty must be finite");
  }
  if (max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens must be >= 1, got ", max_new_tokens));
  }
  if (num_return_sequences < 1 || num_return_sequences > num_beams) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_return_sequences must be in [1, num_beams = ", num_beams, "], got ",
                     num_return_sequences));
  }
  if (prompt_length < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt_length must be >= 0 (or -1: the cached length), got ", prompt_length));
  }
  return CheckEosIds(eos_token_ids);
}

}  // namespace lmeye
