#include "server/modes/verify_main.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "model/common/flags.h"
#include "model/verify/verifier.h"
#include "server/modes/device_flag.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye verify --model DIR [--model DIR ...] [--tolerance 1e-5] [--device cpu|cuda:N]\n"
    "  Recomputes every golden tensor in DIR/golden.{json,safetensors} that the model directory\n"
    "  supports and prints its max abs diff and the bound it is held to: --tolerance x max(1,\n"
    "  max |golden|), relative to the tensor's scale (ids: exact). Exit code 1 if any golden is\n"
    "  over its bound. --goldens DIR takes the goldens from DIR instead (a fixture's, for a model\n"
    "  directory made from its files, e.g. by lmeye import lingcloud).\n";

}  // namespace

int VerifyMain(const std::vector<std::string>& args) {
  std::vector<std::string> dirs;
  VerifyOptions options;
  const std::vector<Flag> flags = {
      StringsFlag("model", &dirs, "DIR", "model directory with goldens (repeatable)").Required(),
      StringFlag("goldens", &options.goldens_dir, "DIR",
                 "golden.json + golden.safetensors from DIR (default: each model directory)"),
      DoubleFlag("tolerance", &options.relative_tolerance, "T",
                 "bound relative to max(1, max |golden|)", kNonNegative),
      DeviceFlag(&options.device),
  };
  if (std::optional<int> exit = ParseModeFlags("verify", kAbout, flags, args)) return *exit;
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
