#include "server/modes/bench_main.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/common/device.h"
#include "model/common/flags.h"
#include "model/common/runtime.h"
#include "model/tools/bench.h"
#include "server/modes/device_flag.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye bench --model DIR [flags]\n"
    "  Model-level speed of an LMEye model directory (make one with `lmeye init-model`):\n"
    "  prefill and decode tokens/s, decode vs the memory-bandwidth roofline, batch scaling,\n"
    "  and time to first token with IPN, IPN* and the naive two-full-pass method.\n";

// --batch-sizes 1,8,32: positive integers, in the order given.
absl::Status SetBatchSizes(const std::string& text, std::vector<int>* sizes) {
  sizes->clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int b = 0;
    if (!absl::SimpleAtoi(part, &b) || b <= 0) {
      return FlagValueError("batch-sizes", text, "comma-separated positive integers");
    }
    sizes->push_back(b);
  }
  return absl::OkStatus();
}

}  // namespace

int BenchMain(const std::vector<std::string>& args) {
  BenchOptions options;
  bool json = false;
  int threads = 0;
  const std::vector<Flag> flags = {
      StringFlag("model", &options.model_dir, "DIR", "LMEye model directory").Required(),
      CustomFlag("dtype", FlagKind::kString, "fp32|bf16|fp16|int8",
                 "compute dtype; int8: the LLM's weights int8, the rest bf16",
                 [&](const std::string& v) -> absl::Status {
                   absl::StatusOr<ModelDtype> dtype = ParseModelDtype(v);
                   if (!dtype.ok()) {
                     return absl::InvalidArgumentError(
                         absl::StrCat("--", dtype.status().message()));
                   }
                   options.dtype = dtype->compute;
                   options.int8_weights = dtype->int8_weights;
                   return absl::OkStatus();
                 })
          .Default("fp32"),
      DeviceFlag(&options.device),
      IntFlag("prompt-tokens", &options.prompt_tokens, "N", "|X| of the benchmark prompts",
              kPositive),
      IntFlag("prefill-tokens", &options.prefill_tokens, "N",
              "prompt length of the prefill throughput figure", kPositive),
      IntFlag("decode-steps", &options.decode_steps, "N", "decode steps timed per batch size",
              kPositive),
      CustomFlag("batch-sizes", FlagKind::kString, "B,B,...", "decode batch sizes",
                 [&](const std::string& v) { return SetBatchSizes(v, &options.batch_sizes); })
          .Default("1,8,32"),
      IntFlag("repeats", &options.repeats, "N", "each timing is the median of N runs", kPositive),
      IntFlag("threads", &threads, "N", "intra-op CPU threads; 0: every core", kNonNegative),
      IntFlag("kv-capacity", &options.kv_capacity, "N",
              "KV positions per slot; 0: what the benchmark needs (the server allocates "
              "scheduler.max_sequence_positions)",
              kNonNegative),
      BoolFlag("json", &json, "print the report as JSON"),
  };
  if (std::optional<int> exit = ParseModeFlags("bench", kAbout, flags, args)) return *exit;
  if (threads > 0) ConfigureTorchThreads(threads);
  auto report = RunBench(options);
  if (!report.ok()) {
    std::cerr << "lmeye bench: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << (json ? BenchReportToJson(*report) + "\n" : FormatBenchReport(*report));
  return 0;
}

}  // namespace lmeye
