// Renders a ScoreReport: JSON for files and tools, and a fixed-width table for the terminal.
// Metric values are written unchanged (full double precision in JSON; 4 decimals for fractions
// and 2 for percentages in the table).
#pragma once

#include <string>

#include "model/eval/scoring.h"
#include "nlohmann/json.hpp"

namespace lmeye::eval {

// {"task", "n_items", "n_missing", "n_unmatched", "metrics": {...}, "breakdowns": {...},
//  "items": [{"id", "prediction", "metrics"}...] (only with include_items)}.
nlohmann::json ReportToJson(const ScoreReport& report, bool include_items = false);

// A printable table, one metric a row, then the VQA breakdowns.
std::string FormatReportTable(const ScoreReport& report);

}  // namespace lmeye::eval
