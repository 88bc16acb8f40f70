// `lmeye train`: trains the IPN adapter (model/train/trainer.h) from a YAML config whose keys
// flags override (`--lr 2e-4`, `--batch_size=4`, `--resume`).
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// Returns the process exit code: 0 trained (final adapter written), 1 failed while loading or
// training, 2 usage or config error, 130 / 143 stopped by SIGINT / SIGTERM after writing a
// checkpoint (resume with --resume).
int TrainMain(const std::vector<std::string>& args);

}  // namespace lmeye
