// `lmeye verify`: recompute every golden a model directory supports and compare.
#pragma once

#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "model/common/golden_tolerance.h"

namespace lmeye {

struct VerifyOptions {
  // Floating-point goldens pass when max |diff| <= relative_tolerance * max(1, max |golden|)
  // (model/common/golden_tolerance.h, the rule every test holds goldens to); ids are exact.
  double relative_tolerance = kGoldenRelativeTolerance;
  at::Device device = at::kCPU;  // where the model runs (float32 everywhere)
  // Where golden.json and golden.safetensors are; empty: the model directory itself.
  std::string goldens_dir;
};

struct VerifyLine {
  std::string name;
  std::string status;       // "ok", "FAIL", "skipped" (not recomputed: input or unsupported)
  double max_abs_diff = 0;  // floating-point goldens
  double bound = 0;         // what max_abs_diff was allowed (0 for ids)
  bool exact = false;       // integer goldens compared for equality
  std::string note;         // shape mismatch, mismatching positions, why skipped...
};

struct VerifyReport {
  std::string dir;
  std::string recomputer;  // which kind of model it was recognised as
  std::vector<VerifyLine> lines;
  int n_compared = 0;
  int n_failed = 0;
  bool passed() const { return n_failed == 0 && n_compared > 0; }
};

// Errors: the directory has no goldens, no recomputer handles it, or the model fails to load.
absl::StatusOr<VerifyReport> VerifyModelDir(const std::string& dir, const VerifyOptions& options);

// One line per golden tensor, then a summary line.
std::string FormatReport(const VerifyReport& report);

}  // namespace lmeye
