// `lmeye init-model`: writes an LMEye model directory with random weights of a named shape and a
// real tokenizer (model/tools/init_model.h), for tests and benchmarks.
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// Returns the process exit code: 0 written, 1 failed while writing, 2 usage error (unknown flag,
// family or preset, non-empty --out without --force).
int InitModelMain(const std::vector<std::string>& args);

}  // namespace lmeye
