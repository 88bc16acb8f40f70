// Fuzz target for the torch.save reader: each input opened from bytes (zip or legacy format),
// listed, and every tensor of every entry loaded (torch_checkpoint_exercise.h). No loaded tensor
// may be larger than the input. Seeds: corpus/torch_checkpoint (tiny torch.save files).
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
