// `lmeye bench` for an LMEye v0.1 model directory (BLIP-2 T5, Seq2SeqIpnEngine): the same report
// (bench.h) timed through the engine the server runs, with the time to first token split by phase.
// RunBench calls it when the directory is a v0.1 one; the timing helpers are shared with it.
#pragma once

#include <functional>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/ipn/lmeye_model.h"
#include "model/tools/bench.h"

namespace lmeye {

// `model` must be a v0.1 model (lingcloud_v01() non-null), loaded as `options` ask.
absl::StatusOr<BenchReport> RunSeq2SeqBench(const BenchOptions& options, LmeyeModel& model);
// The v0.1 lines of FormatBenchReport after the shared header line.
std::string FormatSeq2SeqBenchReport(const BenchReport& report);

namespace bench_internal {
// Median wall time of `repeats` runs of `fn` after one warm-up run, the device synchronised
// around each.
absl::StatusOr<double> TimeMedian(const at::Device& device, int repeats,
                                  const std::function<absl::Status()>& fn);
// Read bandwidth of one large tensor sum on `device`, bytes/s.
double MeasureBandwidth(const at::Device& device);
}  // namespace bench_internal

}  // namespace lmeye
