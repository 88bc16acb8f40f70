// `lmeye bench`: model-level speed (see model/tools/bench.h).
#pragma once

#include <string>
#include <vector>

namespace lmeye {

int BenchMain(const std::vector<std::string>& args);

}  // namespace lmeye
