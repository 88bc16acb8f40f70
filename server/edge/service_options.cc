#include "server/edge/service_options.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {

absl::Status ServiceLimits::Validate() const {
  if (max_image_bytes == 0) {
    return absl::InvalidArgumentError("limits.max_image_bytes must be > 0");
  }
  if (max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.max_new_tokens must be >= 1, got ", max_new_tokens));
  }
  if (max_num_beams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.max_num_beams must be >= 1, got ", max_num_beams));
  }
  return absl::OkStatus();
}

absl::Status GenerationDefaults::Validate() const {
  absl::Status status = sampling.Validate();
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("defaults.", status.message()));
  }
  if (num_beams < 1 || describe_num_beams < 1) {
    return absl::InvalidArgumentError("defaults.num_beams and describe_num_beams must be >= 1");
  }
  if (vqa_num_beams < 0) {
    return absl::InvalidArgumentError("defaults.vqa_num_beams must be >= 0 (0: num_beams)");
  }
  if (num_beams > 1 && !sampling.greedy()) {
    return absl::InvalidArgumentError("defaults.num_beams > 1 needs temperature 0");
  }
  if (!std::isfinite(length_penalty)) {
    return absl::InvalidArgumentError("defaults.length_penalty must be finite");
  }
  return absl::OkStatus();
}

absl::Status ServiceOptions::Validate() const {
  LMEYE_RETURN_IF_ERROR(limits.Validate());
  LMEYE_RETURN_IF_ERROR(defaults.Validate());
  if (defaults.sampling.max_new_tokens > limits.max_new_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("defaults.max_new_tokens (", defaults.sampling.max_new_tokens,
                     ") is over limits.max_new_tokens (", limits.max_new_tokens, ")"));
  }
  for (const auto& [name, beams] : {std::pair<const char*, int>{"num_beams", defaults.num_beams},
                                    {"describe_num_beams", defaults.describe_num_beams},
                                    {"vqa_num_beams", defaults.vqa_num_beams}}) {
    if (beams > limits.max_num_beams) {
      return absl::InvalidArgumentError(absl::StrCat("defaults.", name, " (", beams,
                                                     ") is over limits.max_num_beams (",
                                                     limits.max_num_beams, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace lmeye
