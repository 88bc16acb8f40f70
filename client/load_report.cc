#include "client/load_report.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lmeye::client {
namespace {

nlohmann::json Number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }

nlohmann::json SummaryJson(const LatencySummary& s) {
  return {{"count", s.count},     {"mean", Number(s.mean)}, {"p50", Number(s.p50)},
          {"p90", Number(s.p90)}, {"p99", Number(s.p99)},   {"max", Number(s.max)}};
}

std::string SummaryLine(const char* name, const LatencySummary& s) {
  if (s.count == 0) return absl::StrFormat("%-22s (no samples)\n", name);
  return absl::StrFormat("%-22s p50 %9.1f  p90 %9.1f  p99 %9.1f  mean %9.1f  max %9.1f ms\n", name,
                         s.p50 * 1e3, s.p90 * 1e3, s.p99 * 1e3, s.mean * 1e3, s.max * 1e3);
}

}  // namespace

LoadReport BuildLoadReport(const std::vector<RequestSample>& samples, int concurrency,
                           double wall_seconds) {
  LoadReport r;
  r.concurrency = concurrency;
  r.wall_seconds = wall_seconds;
  std::vector<double> ttft, e2e, gaps;
  for (const RequestSample& s : samples) {
    if (!s.ok) {
      ++r.requests_failed;
      ++r.failures_by_code[s.code];
      continue;
    }
    ++r.requests_ok;
    r.generated_tokens += s.generated_tokens;
    r.prompt_tokens += s.prompt_tokens;
    ttft.push_back(s.ttft_seconds);
    e2e.push_back(s.e2e_seconds);
    gaps.insert(gaps.end(), s.inter_token_seconds.begin(), s.inter_token_seconds.end());
  }
  if (wall_seconds > 0) {
    r.requests_per_second = r.requests_ok / wall_seconds;
    r.generated_tokens_per_second = static_cast<double>(r.generated_tokens) / wall_seconds;
    r.prompt_tokens_per_second = static_cast<double>(r.prompt_tokens) / wall_seconds;
  }
  r.ttft = Summarize(ttft);
  r.e2e = Summarize(e2e);
  r.inter_token = Summarize(gaps);
  return r;
}

void AddSideDescribes(const std::vector<RequestSample>& samples, int num_beams,
                      LoadReport* report) {
  report->side_describe_beams = num_beams;
  std::vector<double> e2e;
  for (const RequestSample& s : samples) {
    if (!s.ok) {
      ++report->side_describe_failed;
      continue;
    }
    ++report->side_describe_ok;
    e2e.push_back(s.e2e_seconds);
  }
  report->side_describe_e2e = Summarize(e2e);
}

std::string FormatLoadReport(const LoadReport& r) {
  std::string out = absl::StrFormat(
      "concurrency            %d\n"
      "requests               %d ok, %d failed in %.2f s\n",
      r.concurrency, r.requests_ok, r.requests_failed, r.wall_seconds);
  for (const auto& [code, n] : r.failures_by_code) {
    absl::StrAppendFormat(&out, "  %-20s %d\n", code, n);
  }
  absl::StrAppendFormat(&out,
                        "throughput             %.2f requests/s, %.1f generated tokens/s, "
                        "%.1f prompt tokens/s\n",
                        r.requests_per_second, r.generated_tokens_per_second,
                        r.prompt_tokens_per_second);
  absl::StrAppend(&out, SummaryLine("time to first token", r.ttft));
  absl::StrAppend(&out, SummaryLine("inter-token", r.inter_token));
  absl::StrAppend(&out, SummaryLine("end to end", r.e2e));
  if (r.side_describe_beams > 0) {
    absl::StrAppendFormat(&out, "side Describe (%d beams) %d ok, %d failed\n",
                          r.side_describe_beams, r.side_describe_ok, r.side_describe_failed);
    absl::StrAppend(&out, SummaryLine("  end to end", r.side_describe_e2e));
  }
  return out;
}

std::string LoadReportJson(const LoadReport& r) {
  nlohmann::json failures = nlohmann::json::object();
  for (const auto& [code, n] : r.failures_by_code) failures[code] = n;
  nlohmann::json json = {
      {"concurrency", r.concurrency},
      {"wall_seconds", r.wall_seconds},
      {"requests_ok", r.requests_ok},
      {"requests_failed", r.requests_failed},
      {"failures_by_code", failures},
      {"requests_per_second", r.requests_per_second},
      {"generated_tokens", r.generated_tokens},
      {"prompt_tokens", r.prompt_tokens},
      {"generated_tokens_per_second", r.generated_tokens_per_second},
      {"prompt_tokens_per_second", r.prompt_tokens_per_second},
      {"time_to_first_token_seconds", SummaryJson(r.ttft)},
      {"end_to_end_seconds", SummaryJson(r.e2e)},
      {"inter_token_seconds", SummaryJson(r.inter_token)},
  };
  if (r.side_describe_beams > 0) {
    json["side_describe"] = {{"num_beams", r.side_describe_beams},
                             {"requests_ok", r.side_describe_ok},
                             {"requests_failed", r.side_describe_failed},
                             {"end_to_end_seconds", SummaryJson(r.side_describe_e2e)}};
  }
  return json.dump();
}

}  // namespace lmeye::client
