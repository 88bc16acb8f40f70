// The model `lmeye serve` hosts when none is configured: a small LMEye model with random weights
// and GPT-2's real tokenizer, written once by init-model into a cache directory, so that a fresh
// machine serves real tokens (though not sensible answers) with no download. The trained demo
// model replaces it when it exists.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace lmeye {

// The directory of the default model, created on first use (atomically: init-model stages it and
// renames it into place). Where: $LMEYE_DEFAULT_MODEL_DIR, else $LMEYE_CACHE_DIR/default-model,
// else $XDG_CACHE_HOME/lmeye/default-model, else ~/.cache/lmeye/default-model. The tokenizer
// comes from $LMEYE_DEFAULT_TOKENIZER_DIR, else the GPT-2 files shipped in the source tree.
absl::StatusOr<std::string> EnsureDefaultModel();

}  // namespace lmeye
