// Fuzz target for Hugging Face tokenizer.json files, byte-level BPE (hf_tokenizer_json.h) and
// Unigram (hf_unigram_json.h): each input written to a file named tokenizer.json (the loader
// reads a path), loaded with LoadHfTokenizerJson, and used (tokenizer_exercise.h).
// Seeds: corpus/tokenizer_json (GPT-2 and BLOOM style BPE, T5 style Unigram).
#include <cstddef>
#include <cstdint>

#include "model/tokenizer/tokenizer_factory.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/tokenizer_exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lmeye::fuzz::TempFile file("tokenizer.json");
  auto tok = lmeye::LoadHfTokenizerJson(file.Write(lmeye::fuzz::AsString(data, size)));
  if (tok.ok()) lmeye::fuzz::ExerciseTokenizer(**tok);
  return 0;
}
