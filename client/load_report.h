// What `lmeye_client load` measured and how it is reported: throughput (requests/s, generated
// tokens/s) and latency percentiles (time to first token, inter-token, end to end), and the side
// Describe client's requests when one ran, human-readable or JSON.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "client/latency_stats.h"

namespace lmeye::client {

// One finished request, as the client saw it.
struct RequestSample {
  bool ok = false;
  std::string code;         // gRPC code name ("OK", "UNAVAILABLE", ...)
  double ttft_seconds = 0;  // send -> first streamed text (or the final message)
  double e2e_seconds = 0;   // send -> status
  int prompt_tokens = 0;    // from the final message's usage
  int generated_tokens = 0;
  // The gaps between consecutive streamed text pieces (one a token, except where the server
  // holds text back: an incomplete character, a possible stop string).
  std::vector<double> inter_token_seconds;
};

struct LoadReport {
  int concurrency = 0;
  double wall_seconds = 0;  // first send -> last status
  int requests_ok = 0;
  int requests_failed = 0;
  std::map<std::string, int> failures_by_code;
  double requests_per_second = 0;          // successful requests / wall time
  double generated_tokens_per_second = 0;  // generated tokens of successful requests / wall
  double prompt_tokens_per_second = 0;
  long long generated_tokens = 0;
  long long prompt_tokens = 0;
  LatencySummary ttft;  // successful requests only
  LatencySummary e2e;
  LatencySummary inter_token;  // every gap of every successful request
  // The side Describe client (--side-describe-beams), apart from the figures above; its call
  // still running when the others ended is cancelled and left out.
  int side_describe_beams = 0;  // 0: none ran
  int side_describe_ok = 0;
  int side_describe_failed = 0;
  LatencySummary side_describe_e2e;  // successful ones
};

LoadReport BuildLoadReport(const std::vector<RequestSample>& samples, int concurrency,
                           double wall_seconds);
// Adds the side Describe client's finished requests to `report`.
void AddSideDescribes(const std::vector<RequestSample>& samples, int num_beams, LoadReport* report);

// A few aligned lines for a terminal (latencies in milliseconds).
std::string FormatLoadReport(const LoadReport& report);

// One JSON object; latencies in seconds; NaN (no samples) as null.
std::string LoadReportJson(const LoadReport& report);

}  // namespace lmeye::client
