// libFuzzer entry point for the torch.save reader: coverage-guided, under AddressSanitizer, with
// the reader's sources compiled into the target (tests/io/CMakeLists.txt, LMEYE_FUZZ=ON). Seed it
// with the committed checkpoints:
//   build-fuzz/tests/io/torch_checkpoint_fuzzer -max_total_time=300 corpus/ \
//       tests/data/checkpoints tests/data/checkpoints/hf_single tests/data/checkpoints/hf_sharded
// (corpus/ a writable directory for what it finds).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/io/torch_checkpoint_exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lmeye::testing::ExerciseCounts counts;
  lmeye::testing::ExerciseTorchCheckpoint(std::string(reinterpret_cast<const char*>(data), size),
                                          counts);
  if (counts.oversized != 0) std::abort();  // a tensor larger than its file
  return 0;
}
