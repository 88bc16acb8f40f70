// `lmeye verify`: recompute a model directory's golden tensors and print the max abs diff of each.
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// Returns the process exit code: 0 all goldens within tolerance, 1 a mismatch, 2 usage or load
// error.
int VerifyMain(const std::vector<std::string>& args);

}  // namespace lmeye
