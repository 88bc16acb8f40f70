#include "model/eval/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lmeye::eval {
namespace {

// VQA and choice accuracies are percentages; caption metrics are fractions.
bool IsPercent(const ScoreReport& report, const std::string& metric) {
  return metric == "accuracy" &&
         (report.task == EvalTask::kVqa || report.task == EvalTask::kChoice);
}

}  // namespace

nlohmann::json ReportToJson(const ScoreReport& report, bool include_items) {
  nlohmann::json out;
  out["task"] = EvalTaskName(report.task);
  out["n_items"] = report.n_items;
  out["n_missing"] = report.n_missing;
  out["n_unmatched"] = report.n_unmatched;
  out["metrics"] = report.metrics;
  if (!report.breakdowns.empty()) out["breakdowns"] = report.breakdowns;
  if (include_items) {
    nlohmann::json items = nlohmann::json::array();
    for (const ItemScore& item : report.items) {
      items.push_back(
          {{"id", item.id}, {"prediction", item.prediction}, {"metrics", item.metrics}});
    }
    out["items"] = std::move(items);
  }
  return out;
}

std::string FormatReportTable(const ScoreReport& report) {
  std::string out = absl::StrFormat("task %s: %d items, %d without prediction, %d unmatched\n",
                                    EvalTaskName(report.task), report.n_items, report.n_missing,
                                    report.n_unmatched);
  size_t width = 6;
  for (const auto& [name, value] : report.metrics) width = std::max(width, name.size());
  for (const auto& [group, values] : report.breakdowns) {
    for (const auto& [name, value] : values) width = std::max(width, name.size() + 2);
  }
  const int w = static_cast<int>(width);
  absl::StrAppend(&out, absl::StrFormat("%-*s  %10s\n", w, "metric", "value"));
  absl::StrAppend(&out, std::string(width + 12, '-'), "\n");
  for (const auto& [name, value] : report.metrics) {
    if (IsPercent(report, name)) {
      absl::StrAppend(&out, absl::StrFormat("%-*s  %10.2f\n", w, name, value));
    } else {
      absl::StrAppend(&out, absl::StrFormat("%-*s  %10.4f\n", w, name, value));
    }
  }
  for (const auto& [group, values] : report.breakdowns) {
    absl::StrAppend(&out, group, "\n");
    for (const auto& [name, value] : values) {
      absl::StrAppend(&out, absl::StrFormat("  %-*s  %10.2f\n", w - 2, name, value));
    }
  }
  return out;
}

}  // namespace lmeye::eval
