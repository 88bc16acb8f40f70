// Building tokenizers from files. Every function returns a ready tokenizer: family special
// tokens resolved, BOS behaviour set. Errors are absl statuses naming the file; no input file
// can crash the process.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

struct TokenizerOptions {
  // Which conventions (special tokens, BOS/EOS) to apply. Default: config.json's `model_type` in
  // the directory, else guessed from the files: tokenizer.model -> LLaMA; spiece.model -> T5; a
  // BPE vocabulary with <s>=0 </s>=2 -> OPT, <s>=1 </s>=2 -> BLOOM, otherwise GPT-2.
  std::optional<TokenizerFamily> family;
};

// Loads the tokenizer of a Hugging Face model directory, trying in order:
//   tokenizer.model (SentencePiece; preferred where a LLaMA directory also has tokenizer.json),
//   spiece.model (T5's SentencePiece, with tokenizer_config.json's extra_ids sentinels; see
//   t5_tokenizer.h), tokenizer.json (byte-level BPE, or Unigram as T5's: hf_unigram_json.h),
//   vocab.json + merges.txt, encoder.json + vocab.bpe.
// Then applies, when present: added_tokens.json (token -> fixed id), special_tokens_map.json and
// tokenizer_config.json (bos/eos/unk/pad_token, add_bos_token, add_eos_token,
// additional_special_tokens; later files win). All added tokens are special: reached by id, never
// parsed from text by Encode() (only by EncodeWithAddedTokens()). NotFound listing the names
// tried when no tokenizer file exists.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& dir,
                                                         const TokenizerOptions& options = {});

// GPT-2-format files. The OPT flavour from the fixtures:
//   LoadBpeTokenizer("opt/vocab_derived.json", "gpt2/vocab.bpe", TokenizerFamily::kOpt).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadBpeTokenizer(
    const std::string& vocab_json, const std::string& merges,
    std::optional<TokenizerFamily> family = std::nullopt);

// A Hugging Face tokenizer.json (see hf_tokenizer_json.h and, for a Unigram model,
// hf_unigram_json.h for what is supported). A post-processor that prepends a special token sets
// it as BOS with add_bos; for Unigram, one that appends a token sets it as EOS with add_eos. A
// Unigram file is the T5 family unless `family` says otherwise.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(
    const std::string& path, std::optional<TokenizerFamily> family = std::nullopt);

// A SentencePiece tokenizer.model; special ids come from the model file. For T5 use
// LoadT5Tokenizer (t5_tokenizer.h), which adds the <extra_id_N> sentinels.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, TokenizerFamily family = TokenizerFamily::kLlama);

}  // namespace lmeye
