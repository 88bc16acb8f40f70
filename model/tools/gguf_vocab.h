// The tokenizer a llama.cpp GGUF carries (tokenizer.ggml.*), from a model's SentencePiece
// tokenizer.model: llama.cpp's "llama" vocabulary is SentencePiece's pieces, scores and piece
// types (the same type numbers: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
// 6 byte). Tokens added after the model (added_tokens.json) are control tokens, and the rows of
// an embedding table larger than the vocabulary get "[PAD<id>]" unused entries, as llama.cpp's
// own converter writes them: llama.cpp needs one entry per embedding row.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tools/gguf_writer.h"

namespace lmeye {

struct GgufVocab {
  std::string model = "llama";  // tokenizer.ggml.model
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;
  int64_t bos = -1, eos = -1, unk = -1, pad = -1;  // -1: not written
  bool add_bos = true;
};

// Reads `llm_dir`/tokenizer.model (and added_tokens.json, if any), padded to `vocab_size`
// entries. Unimplemented for a model without tokenizer.model (byte-level BPE vocabularies are
// not exported); InvalidArgument when the tokenizer has more ids than `vocab_size`.
absl::StatusOr<GgufVocab> ReadGgufVocab(const std::string& llm_dir, int64_t vocab_size);

// Writes the tokenizer.ggml.* keys.
void AddGgufVocab(const GgufVocab& vocab, GgufWriter& writer);

}  // namespace lmeye
