// Fuzz target for the safetensors reader: each input written to a file (SafetensorsFile maps a
// path), opened, and every tensor loaded in its own dtype and as F32. A tensor must hold exactly
// the bytes its data_offsets span, and nothing may throw. Seeds: corpus/safetensors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "model/io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lmeye::fuzz::TempFile file("model.safetensors");
  auto st = lmeye::SafetensorsFile::Open(file.Write(lmeye::fuzz::AsString(data, size)));
  if (!st.ok()) return 0;
  for (const lmeye::SafetensorsEntry& e : (*st)->entries()) {
    auto tensor = (*st)->Load(e.name);
    if (!tensor.ok()) continue;
    if (static_cast<uint64_t>(tensor->nbytes()) != e.end - e.begin) std::abort();
    auto as_float = (*st)->Load(e.name, at::kFloat);
    if (as_float.ok() && as_float->numel() != tensor->numel()) std::abort();
  }
  (*st)->metadata();
  return 0;
}
