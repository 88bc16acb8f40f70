// `lmeye export-gguf`: a LLaMA model as a llama.cpp GGUF file (model/tools/gguf_export.h), and
// optionally the greedy tokens llama.cpp should reproduce on it (model/tools/greedy_reference.h).
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// Returns the process exit code: 0 written, 1 failed, 2 usage error.
int ExportGgufMain(const std::vector<std::string>& args);

}  // namespace lmeye
