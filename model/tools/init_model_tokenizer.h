// The tokenizer side of `lmeye init-model`: which special ids the new model records, and the
// tokenizer files copied into its llm/ directory so LoadTokenizer (and transformers) read them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/llm/llm_config.h"
#include "model/tools/init_model.h"

namespace lmeye {

struct TokenizerPlan {
  LlmSpecialIds ids;
  int64_t vocab = 0;                // tokenizer ids after additions
  nlohmann::json added_tokens;      // added_tokens.json to write (object; may be empty)
  nlohmann::json tokenizer_config;  // tokenizer_config.json to write
  std::vector<std::string> notes;   // decisions worth telling the user
};

// Loads the tokenizer in `src` under `family`'s conventions and decides the ids the model
// records (filling a missing BOS/EOS/pad the way real checkpoints do). Errors: no readable
// tokenizer in `src`.
absl::StatusOr<TokenizerPlan> PlanTokenizer(const std::string& src, LlmFamily family);

// Copies the tokenizer files of `src` into `dst` under their Hugging Face names (encoder.json ->
// vocab.json, vocab.bpe -> merges.txt), with licence files. The caller writes the plan's
// added_tokens.json and tokenizer_config.json.
absl::Status CopyTokenizerFiles(const std::string& src, const std::string& dst);

}  // namespace lmeye
