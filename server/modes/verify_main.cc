#include "server/modes/verify_main.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "model/common/device.h"
#include "model/verify/verifier.h"
#include "server/modes/cli_flags.h"

namespace lmeye {
namespace {

constexpr char kUsage[] =
    "usage: lmeye verify --model DIR [--model DIR ...] [--tolerance 1e-5] [--device cpu|cuda:N]\n"
    "  Recomputes every golden tensor in DIR/golden.{json,safetensors} that the model directory\n"
    "  supports and prints its max abs diff and the bound it is held to: --tolerance x max(1,\n"
    "  max |golden|), relative to the tensor's scale (ids: exact). Exit code 1 if any golden is\n"
    "  over its bound.\n";

}  // namespace

int VerifyMain(const std::vector<std::string>& args) {
  std::vector<std::string> dirs;
  VerifyOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool missing = false;
    // "--flag=value" or "--flag value" (server/cli_flags.h); nullopt when `a` is not `flag`.
    auto value = [&](const std::string& flag) { return FlagValue(args, i, flag, missing); };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (std::optional<std::string> v = value("--model")) {
      dirs.push_back(*v);
    } else if (std::optional<std::string> v = value("--device")) {
      absl::StatusOr<at::Device> device = ParseDevice(*v);
      if (!device.ok()) {
        std::cerr << "lmeye verify: --" << device.status().message() << "\n";
        return 2;
      }
      options.device = *device;
    } else if (std::optional<std::string> v = value("--tolerance")) {
      if (!absl::SimpleAtod(*v, &options.relative_tolerance) ||
          !(options.relative_tolerance >= 0)) {
        std::cerr << "lmeye verify: --tolerance must be a non-negative number, got \"" << *v
                  << "\"\n";
        return 2;
      }
    } else if (missing) {
      std::cerr << "lmeye verify: " << a << " needs a value\n" << kUsage;
      return 2;
    } else {
      std::cerr << "lmeye verify: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  if (dirs.empty()) {
    std::cerr << "lmeye verify: --model is required\n" << kUsage;
    return 2;
  }
  int code = 0;
  for (const std::string& dir : dirs) {
    auto report = VerifyModelDir(dir, options);
    if (!report.ok()) {
      std::cerr << "lmeye verify: " << dir << ": " << report.status().message() << "\n";
      code = 2;
      continue;
    }
    std::cout << FormatReport(*report) << std::flush;
    if (!report->passed() && code == 0) code = 1;
  }
  return code;
}

}  // namespace lmeye
