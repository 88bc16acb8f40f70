#include "server/modes/bench_main.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "model/common/device.h"
#include "model/common/runtime.h"
#include "model/tools/bench.h"

namespace lmeye {
namespace {

constexpr char kUsage[] =
    "usage: lmeye bench --model DIR [--dtype fp32|bf16|fp16] [--device cpu|cuda:N]\n"
    "                   [--prompt-tokens 64]\n"
    "                   [--prefill-tokens 256] [--decode-steps 32] [--batch-sizes 1,8,32]\n"
    "                   [--repeats 3] [--threads N] [--kv-capacity N] [--json]\n"
    "  Model-level speed of an LMEye model directory (make one with `lmeye init-model`):\n"
    "  prefill and decode tokens/s, decode vs the memory-bandwidth roofline, batch scaling,\n"
    "  and time to first token with IPN, IPN* and the naive two-full-pass method.\n";

}  // namespace

int BenchMain(const std::vector<std::string>& args) {
  BenchOptions options;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&](std::string* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    auto int_flag = [&](int* out) {
      std::string v;
      if (!next(&v) || !absl::SimpleAtoi(v, out) || *out <= 0) {
        std::cerr << "lmeye bench: " << a << " needs a positive integer\n";
        return false;
      }
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--model") {
      if (!next(&options.model_dir)) break;
    } else if (a == "--dtype") {
      if (!next(&v)) break;
      absl::StatusOr<at::ScalarType> dtype = ParseDtype(v);
      if (!dtype.ok()) {
        std::cerr << "lmeye bench: --" << dtype.status().message() << "\n";
        return 2;
      }
      options.dtype = *dtype;
    } else if (a == "--device") {
      if (!next(&v)) break;
      absl::StatusOr<at::Device> device = ParseDevice(v);
      if (!device.ok()) {
        std::cerr << "lmeye bench: --" << device.status().message() << "\n";
        return 2;
      }
      options.device = *device;
    } else if (a == "--prompt-tokens") {
      if (!int_flag(&options.prompt_tokens)) return 2;
    } else if (a == "--prefill-tokens") {
      if (!int_flag(&options.prefill_tokens)) return 2;
    } else if (a == "--decode-steps") {
      if (!int_flag(&options.decode_steps)) return 2;
    } else if (a == "--kv-capacity") {
      if (!int_flag(&options.kv_capacity)) return 2;
    } else if (a == "--repeats") {
      if (!int_flag(&options.repeats)) return 2;
    } else if (a == "--batch-sizes") {
      if (!next(&v)) break;
      options.batch_sizes.clear();
      for (absl::string_view part : absl::StrSplit(v, ',')) {
        int b = 0;
        if (!absl::SimpleAtoi(part, &b) || b <= 0) {
          std::cerr << "lmeye bench: --batch-sizes must be positive integers, got \"" << v
                    << "\"\n";
          return 2;
        }
        options.batch_sizes.push_back(b);
      }
    } else if (a == "--threads") {
      int threads = 0;
      if (!int_flag(&threads)) return 2;
      ConfigureTorchThreads(threads);
    } else if (a == "--json") {
      json = true;
    } else {
      std::cerr << "lmeye bench: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  if (options.model_dir.empty()) {
    std::cerr << "lmeye bench: --model is required\n" << kUsage;
    return 2;
  }
  auto report = RunBench(options);
  if (!report.ok()) {
    std::cerr << "lmeye bench: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << (json ? BenchReportToJson(*report) + "\n" : FormatBenchReport(*report));
  return 0;
}

}  // namespace lmeye
