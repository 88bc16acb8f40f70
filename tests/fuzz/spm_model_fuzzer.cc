// Fuzz target for SentencePiece model files (tokenizer.model, spiece.model), read by the
// project's own parser (spm_model_proto.h, spm_model.h, spm_charsmap.h): each input parsed with
// SpmModel::FromSerialized, wrapped as the LLaMA and the T5 tokenizers would be, and used
// (tokenizer_exercise.h). Seeds: corpus/spm_model (a BPE model, Unigram with and without a
// precompiled charsmap).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/spm_model.h"
#include "tests/fuzz/tokenizer_exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model =
      lmeye::SpmModel::FromSerialized(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!model.ok()) return 0;
  const lmeye::TokenizerFamily family =
      size % 2 == 0 ? lmeye::TokenizerFamily::kLlama : lmeye::TokenizerFamily::kT5;
  auto tok = lmeye::SentencePieceTokenizer::FromModel(std::move(model).value(), "fuzz", family);
  if (!tok.ok()) return 0;
  lmeye::fuzz::ExerciseTokenizer(**tok);
  return 0;
}
