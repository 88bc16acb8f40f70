// Percentiles of latency samples, for the load generator's report.
#pragma once

#include <cstddef>
#include <vector>

namespace lmeye::client {

// The p-th percentile (p in [0, 100]) by linear interpolation between the closest ranks
// (numpy.percentile's default): the value at rank p/100 * (n - 1) of the sorted samples.
// NaN for no samples; p outside [0, 100] is clamped.
double Percentile(std::vector<double> values, double p);

struct LatencySummary {
  size_t count = 0;
  double mean = 0;  // NaN (like the percentiles) when count is 0
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

LatencySummary Summarize(const std::vector<double>& values);

}  // namespace lmeye::client
