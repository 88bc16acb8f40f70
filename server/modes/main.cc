// The `lmeye` binary: one executable, several worker modes.
#include <iostream>
#include <string>
#include <vector>

#include "model/common/runtime.h"
#include "server/modes/bench_main.h"
#include "server/modes/export_gguf_main.h"
#include "server/modes/import_main.h"
#include "server/modes/init_model_main.h"
#include "server/modes/verify_main.h"
#ifdef LMEYE_WITH_TRAIN
#include "server/modes/train_main.h"
#endif
#ifdef LMEYE_WITH_DATA
#include "server/modes/data_main.h"
#endif
#ifdef LMEYE_WITH_SERVE
#include "server/modes/serve_main.h"
#endif

namespace {

constexpr char kUsage[] =
    "usage: lmeye <mode> [flags]\n"
    "modes:\n"
#ifdef LMEYE_WITH_SERVE
    "  serve    serve the gRPC API with continuous batching (lmeye serve --help)\n"
#endif
#ifdef LMEYE_WITH_TRAIN
    "  train    train the IPN adapter (align, instruct) or small backbones (clip, lm)\n"
#endif
    "  verify   recompute a model directory's golden tensors (lmeye verify --help)\n"
    "  bench    model-level speed: tokens/s, roofline, time to first token (lmeye bench --help)\n"
    "  init-model  write a model with random weights of a named shape (lmeye init-model --help)\n"
    "  import   a model directory from the released LMEye v0 files (lmeye import --help)\n"
    "  export-gguf  a LLaMA model as a llama.cpp GGUF file (lmeye export-gguf --help)\n"
#ifdef LMEYE_WITH_DATA
    "  data     make datasets: shapes (lmeye data --help)\n"
#endif
    ;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string mode = argv[1];
#ifdef LMEYE_WITH_SERVE
  // Before any thread exists (libtorch's pools, gRPC's): every thread inherits the mask, so
  // SIGTERM reaches only the serve loop's sigwait().
  if (mode == "serve") lmeye::BlockTerminationSignals();
#endif
  std::vector<std::string> args(argv + 2, argv + argc);
  if (mode == "--help" || mode == "-h" || mode == "help") {
    std::cout << kUsage;
    return 0;
  }
  // Threads: every core by default (libtorch starts with one here); a flag arrives with `serve`.
  lmeye::ConfigureTorchThreads(0);
  std::cerr << "lmeye: " << lmeye::RuntimeSummary() << "\n";
  if (mode == "verify") return lmeye::VerifyMain(args);
#ifdef LMEYE_WITH_SERVE
  if (mode == "serve") return lmeye::ServeMain(args);
#endif
  if (mode == "bench") return lmeye::BenchMain(args);
  if (mode == "init-model") return lmeye::InitModelMain(args);
  if (mode == "import") return lmeye::ImportMain(args);
  if (mode == "export-gguf") return lmeye::ExportGgufMain(args);
#ifdef LMEYE_WITH_TRAIN
  if (mode == "train") return lmeye::TrainMain(args);
#endif
#ifdef LMEYE_WITH_DATA
  if (mode == "data") return lmeye::DataMain(args);
#endif
  std::cerr << "lmeye: unknown mode \"" << mode << "\"\n" << kUsage;
  return 2;
}
