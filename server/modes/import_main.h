// `lmeye import`: model directories from checkpoints in other layouts. `lmeye import lingcloud`
// reads the released LMEye v0 files (model/tools/lingcloud_import.h).
#pragma once

#include <string>
#include <vector>

namespace lmeye {

int ImportMain(const std::vector<std::string>& args);

}  // namespace lmeye
