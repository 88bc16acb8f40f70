// A tiny LMEye model directory for a test suite: OPT-tiny and CLIP-tiny shapes with random
// weights from `seed` and GPT-2's real tokenizer, written by init-model (so the tests exercise
// real text in and out) into a scratch directory removed with the object. Needs libtorch.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/tools/init_model.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye::testing {

class TinyLmeyeModelDir {
 public:
  explicit TinyLmeyeModelDir(uint64_t seed = 3) : scratch_("lmeye_tiny_model") {
    InitModelOptions options;
    options.family = LlmFamily::kOpt;
    options.tokenizer_dir = TestData("tokenizers/gpt2");
    options.out_dir = scratch_.Path("model");
    options.seed = seed;
    absl::StatusOr<InitModelReport> report = InitModel(options);
    status_ = report.status();
  }

  // Whether init-model succeeded; check it in SetUpTestSuite.
  const absl::Status& status() const { return status_; }
  // The LMEye model directory (adapter.json, clip/, llm/ with the tokenizer).
  std::string path() const { return scratch_.Path("model"); }

 private:
  ScratchDir scratch_;
  absl::Status status_;
};

}  // namespace lmeye::testing
