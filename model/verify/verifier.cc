#include "model/verify/verifier.h"

#include <cstdio>
#include <map>
#include <memory>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/verify/golden.h"

namespace lmeye {
namespace {

VerifyLine Compare(const GoldenCheck& check, const at::Tensor& golden, double relative) {
  VerifyLine line;
  line.name = check.name;
  line.exact = check.exact;
  if (check.actual.sizes() != golden.sizes()) {
    line.status = "FAIL";
    line.note = absl::StrCat("shape [", absl::StrJoin(check.actual.sizes().vec(), ","),
                             "] != golden [", absl::StrJoin(golden.sizes().vec(), ","), "]");
    return line;
  }
  // Ids are compared as ids even where the golden file stores them as floats.
  const at::Tensor expected = check.exact ? golden.to(at::kLong) : golden;
  const at::Tensor actual = check.exact ? check.actual.cpu().to(at::kLong) : check.actual;
  const GoldenComparison c = CompareToGolden(actual, expected, check.mask, relative);
  line.max_abs_diff = c.max_abs_diff;
  line.bound = c.bound;
  line.status = c.ok() ? "ok" : "FAIL";
  if (c.exact && c.n_mismatched > 0) {
    line.note = absl::StrCat(c.n_mismatched, " of ", golden.numel(), " ids differ");
  } else if (!c.finite) {
    line.note = "NaN or infinity in recomputed values";
  } else if (!c.ok()) {
    line.note = absl::StrFormat("over the bound %.3e (%g x max(1, max |golden|) = %g x %.3g)",
                                c.bound, relative, relative, c.scale);
  }
  return line;
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyModelDir(const std::string& dir, const VerifyOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(
      std::unique_ptr<GoldenSet> golden,
      GoldenSet::Open(options.goldens_dir.empty() ? dir : options.goldens_dir, dir));
  std::vector<std::unique_ptr<GoldenRecomputer>> recomputers;
  recomputers.push_back(MakeClipGoldenRecomputer());
  recomputers.push_back(MakeLlmGoldenRecomputer());
  // Before v0: "LingCloud LMEye v0.1" also starts with v0's "LingCloud LMEye v0".
  recomputers.push_back(MakeLingcloudV01GoldenRecomputer());
  recomputers.push_back(MakeLingcloudV0GoldenRecomputer());
  recomputers.push_back(MakeLmeyeGoldenRecomputer());
  const GoldenRecomputer* chosen = nullptr;
  for (const auto& r : recomputers) {
    if (r->Handles(*golden)) {
      chosen = r.get();
      break;
    }
  }
  if (chosen == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no recomputer understands the goldens in ", dir,
                                                   " (model_class \"", golden->model_class(),
                                                   "\")"));
  }
  torch::NoGradGuard no_grad;
  LMEYE_ASSIGN_OR_RETURN(std::vector<GoldenCheck> checks, chosen->Recompute(*golden, options.device));
  VerifyReport report;
  report.dir = golden->dir();
  report.recomputer = std::string(chosen->name());
  std::map<std::string, const GoldenCheck*> by_name;
  for (const auto& c : checks) by_name[c.name] = &c;
  for (const std::string& name : golden->names()) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      VerifyLine line;
      line.name = name;
      line.status = "skipped";
      line.note = golden->IsInput(name) ? "input" : "not recomputed";
      report.lines.push_back(line);
      continue;
    }
    LMEYE_ASSIGN_OR_RETURN(at::Tensor expected, golden->Get(name));
    auto line = GuardTorch(absl::StrCat("comparing ", name), [&]() -> absl::StatusOr<VerifyLine> {
      return Compare(*it->second, expected, options.relative_tolerance);
    });
    if (!line.ok()) return line.status();
    report.n_compared++;
    if (line->status != "ok") report.n_failed++;
    report.lines.push_back(*line);
    by_name.erase(it);
  }
  for (const auto& [name, check] : by_name) {
    return absl::InternalError(
        absl::StrCat("recomputer produced \"", name, "\" which is not a golden tensor of ", dir));
  }
  return report;
}

std::string FormatReport(const VerifyReport& report) {
  std::string out = absl::StrCat("verify ", report.dir, " (", report.recomputer, ")\n");
  for (const auto& line : report.lines) {
    std::string value = line.status == "skipped" ? "-"
                        : line.exact
                            ? (line.status == "ok" ? "exact" : "mismatch")
                            : absl::StrFormat("%.3e / %.1e", line.max_abs_diff, line.bound);
    absl::StrAppendFormat(&out, "  %-7s %-48s %20s%s%s\n", line.status, line.name, value,
                          line.note.empty() ? "" : "  ", line.note);
  }
  absl::StrAppendFormat(&out, "%s: %d compared, %d failed\n", report.passed() ? "PASS" : "FAIL",
                        report.n_compared, report.n_failed);
  return out;
}

}  // namespace lmeye
