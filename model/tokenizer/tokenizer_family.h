// Tokenizer families and their special-token conventions, as data (one row per family).
#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace lmeye {

enum class TokenizerFamily {
  kGpt2,   // GPT-2 byte-level BPE, GPT-2 ids; <|endoftext|> is bos, eos and unk; no BOS added
  kOpt,    // GPT-2 merges over fairseq ids; `</s>` (2) is bos and eos and is prepended
  kBloom,  // BLOOM byte-level BPE (tokenizer.json); <s>=1 </s>=2 <pad>=3 <unk>=0; no BOS added
  kLlama,  // SentencePiece; <s>=1 </s>=2 <unk>=0; BOS prepended
  kT5,     // SentencePiece unigram (spiece.model); <pad>=0 </s>=1 <unk>=2; no BOS, EOS appended
};

// What a family's Hugging Face tokenizer does by default. Pieces are looked up in the
// vocabulary; an empty piece means the family has no such token.
struct FamilyTokenSpec {
  TokenizerFamily family;
  absl::string_view name;  // config.json `model_type`
  absl::string_view bos;
  absl::string_view eos;
  absl::string_view pad;
  absl::string_view unk;
  bool add_bos;  // whether encoding for a prompt prepends bos
  bool add_eos;  // whether encoding for a prompt appends eos (T5's encoder input ends in </s>)
  // Whether white space next to an added token found in text is dropped before the text
  // around it is encoded (Tokenizer::EncodeWithAddedTokens): what transformers 4.29's slow
  // tokenizers do ("we strip left and right by default"), and what T5's fast tokenizer amounts
  // to (its WhitespaceSplit drops white-space-only pieces). Byte-level BPE keeps the spaces.
  bool strip_around_added_tokens;
};

const FamilyTokenSpec& GetFamilySpec(TokenizerFamily family);

// "gpt2", "opt", "bloom", "llama", "t5" -> family; nullopt for others.
std::optional<TokenizerFamily> TokenizerFamilyFromName(absl::string_view model_type);

absl::string_view TokenizerFamilyName(TokenizerFamily family);

}  // namespace lmeye
