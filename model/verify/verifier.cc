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

VerifyLine Compare(const GoldenCheck& device_check, const at::Tensor& golden, double tolerance) {
  GoldenCheck check = device_check;
  check.actual = check.actual.cpu();
  if (check.mask.defined()) check.mask = check.mask.cpu();
  VerifyLine line;
  line.name = check.name;
  line.exact = check.exact;
  if (check.actual.sizes() != golden.sizes()) {
    line.status = "FAIL";
    line.note = absl::StrCat("shape [", absl::StrJoin(check.actual.sizes().vec(), ","),
                             "] != golden [", absl::StrJoin(golden.sizes().vec(), ","), "]");
    return line;
  }
  at::Tensor mask = check.mask.defined() ? check.mask.to(at::kBool).expand_as(golden)
                                         : at::ones_like(golden, at::kBool);
  if (check.exact) {
    at::Tensor differ = (check.actual.to(at::kLong) != golden.to(at::kLong)) & mask;
    int64_t n = differ.sum().item<int64_t>();
    line.status = n == 0 ? "ok" : "FAIL";
    if (n > 0) line.note = absl::StrCat(n, " of ", golden.numel(), " ids differ");
    return line;
  }
  at::Tensor diff = (check.actual.to(at::kDouble) - golden.to(at::kDouble)).abs();
  diff = at::where(mask, diff, at::zeros_like(diff));
  line.max_abs_diff = diff.numel() > 0 ? diff.max().item<double>() : 0.0;
  // NaN compares false: treat it as a failure explicitly.
  bool finite = !at::isnan(diff).any().item<bool>();
  line.status = finite && line.max_abs_diff <= tolerance ? "ok" : "FAIL";
  if (!finite) line.note = "NaN in recomputed values";
  return line;
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyModelDir(const std::string& dir, const VerifyOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<GoldenSet> golden, GoldenSet::Open(dir));
  std::vector<std::unique_ptr<GoldenRecomputer>> recomputers;
  recomputers.push_back(MakeClipGoldenRecomputer());
  recomputers.push_back(MakeLlmGoldenRecomputer());
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
      VerifyLine line{name, "skipped", 0, false,
                      golden->IsInput(name) ? "input" : "not recomputed"};
      report.lines.push_back(line);
      continue;
    }
    LMEYE_ASSIGN_OR_RETURN(at::Tensor expected, golden->Get(name));
    auto line = GuardTorch(absl::StrCat("comparing ", name), [&]() -> absl::StatusOr<VerifyLine> {
      return Compare(*it->second, expected, options.tolerance);
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
                        : line.exact             ? (line.status == "ok" ? "exact" : "mismatch")
                                                 : absl::StrFormat("%.3e", line.max_abs_diff);
    absl::StrAppendFormat(&out, "  %-7s %-48s %12s%s%s\n", line.status, line.name, value,
                          line.note.empty() ? "" : "  ", line.note);
  }
  absl::StrAppendFormat(&out, "%s: %d compared, %d failed\n", report.passed() ? "PASS" : "FAIL",
                        report.n_compared, report.n_failed);
  return out;
}

}  // namespace lmeye
