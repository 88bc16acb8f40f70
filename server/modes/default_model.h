// The model `lmeye serve` hosts when none is configured: the demo model the project trained
// itself (model/demo, MODEL_CARD.md; recipe deploy/train-demo.sh), shipped in the source tree and
// the Docker image. Where it is missing (a trimmed install), a small LMEye model with random
// weights and GPT-2's real tokenizer, written once by init-model into a cache directory, so that
// a fresh machine still serves real tokens (though not sensible answers) with no download.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace lmeye {

// The directory of the default model. $LMEYE_DEFAULT_MODEL_DIR, when set, names the random one's
// directory (tests use it); otherwise the shipped demo model when present (<binary>/../share/
// lmeye/demo, then the source tree's model/demo). The random model is created on first use
// (atomically: init-model stages it and renames it into place) in $LMEYE_CACHE_DIR/default-model,
// else $XDG_CACHE_HOME/lmeye/default-model, else ~/.cache/lmeye/default-model. Its tokenizer
// comes from $LMEYE_DEFAULT_TOKENIZER_DIR, else <binary>/../share/lmeye/tokenizers/gpt2;
// FAILED_PRECONDITION when neither is there (the binary reads nothing of the source tree it was
// built from but the demo model, a default --model overrides).
absl::StatusOr<std::string> EnsureDefaultModel();

}  // namespace lmeye
