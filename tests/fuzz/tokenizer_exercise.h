// What a server asks of a tokenizer it has just loaded from a model directory, for the tokenizer
// fuzz targets: encode prompts (plain, with added tokens, hostile bytes), decode what came out and
// every id of a small vocabulary. Ids must be in range and nothing may crash or throw, whatever
// the file said.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.h"

namespace lmeye::fuzz {

inline void CheckIds(const Tokenizer& tok, const std::vector<int>& ids) {
  for (int id : ids) {
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  }
  tok.Decode(ids).IgnoreError();
}

inline void ExerciseTokenizer(const Tokenizer& tok) {
  static const char* const kTexts[] = {
      "Hello world, the cat is on the mat.",
      "  two  spaces\tand\nnewlines  ",
      "<img-d> describe </s> this <extra_id_0> image",
      "caf\xc3\xa9 \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x98\x80 \xe2\x96\x81",
      "invalid \xff\xfe utf-8 \xc3",
      "",
  };
  for (const char* text : kTexts) {
    if (auto ids = tok.Encode(text); ids.ok()) CheckIds(tok, *ids);
    if (auto ids = tok.EncodeForPrompt(text); ids.ok()) CheckIds(tok, *ids);
    if (auto ids = tok.EncodeWithAddedTokens(text); ids.ok()) CheckIds(tok, *ids);
  }
  // Every id of a small vocabulary, each alone and all together, and ids outside it (an error).
  const int n = std::min(tok.vocab_size(), 1024);
  std::vector<int> all;
  for (int id = 0; id < n; ++id) {
    all.push_back(id);
    tok.IdToPiece(id);
    tok.Decode(std::vector<int>{id}).IgnoreError();
  }
  tok.Decode(all).IgnoreError();
  tok.Decode(std::vector<int>{-1, tok.vocab_size()}).IgnoreError();
  tok.PromptPrefix();
  tok.PromptSuffix();
}

}  // namespace lmeye::fuzz
