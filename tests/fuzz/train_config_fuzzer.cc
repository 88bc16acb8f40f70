// Fuzz target for `lmeye train`'s YAML configuration (model/train/train_config.h): each input
// written to a file named train.yaml (LoadTrainConfigYaml reads a path) and loaded over the
// defaults, then validated. Seeds: corpus/train_config.
#include <cstddef>
#include <cstdint>

#include "model/train/train_config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lmeye::fuzz::TempFile file("train.yaml");
  lmeye::TrainConfig config;
  if (lmeye::LoadTrainConfigYaml(file.Write(lmeye::fuzz::AsString(data, size)), &config).ok()) {
    config.Validate().IgnoreError();
  }
  return 0;
}
