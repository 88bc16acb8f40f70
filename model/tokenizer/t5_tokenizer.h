// T5 / Flan-T5's tokenizer (Hugging Face T5Tokenizer and T5TokenizerFast), on our own
// SentencePiece (a UNIGRAM spiece.model with the nmt_nfkc normalizer).
//
// Ids: the SentencePiece pieces first (<pad>=0, </s>=1, <unk>=2 in Google's models), then the
// sentinels <extra_id_N> in reverse: <extra_id_0> is the LAST id, piece_size + extra_ids - 1, and
// <extra_id_{extra_ids-1}> is piece_size. Tokens added later (added_tokens.json, e.g. LMEye's
// <img-d>, <img-q>) follow. T5 has no BOS; an encoder input ends in </s>, which
// EncodeForPrompt() and EncodeWithAddedTokens() append, as the fast tokenizer's post-processor
// does (always; the slow one skips it when the ids already end in </s>).
//
// The sentinels and added tokens are special here: Decode skips them (as decode with
// skip_special_tokens=True does for the sentinels; transformers would print an add_tokens()
// token such as <img-d>, which a T5 model never generates in practice). Decoding is
// SentencePiece's; transformers' clean_up_tokenization_spaces (" ." -> ".") is not applied.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

// T5Tokenizer's default extra_ids.
inline constexpr int kT5DefaultExtraIds = 100;
// A bound on extra_ids from a file, far above any released model's 100.
inline constexpr int kT5MaxExtraIds = 10000;

// Loads a T5 spiece.model and adds the `extra_ids` sentinels. Special ids come from the model
// file (pad, eos, unk; no bos). InvalidArgument for extra_ids outside [0, kT5MaxExtraIds].
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadT5Tokenizer(const std::string& spiece_model,
                                                           int extra_ids = kT5DefaultExtraIds);

// tokenizer_config.json's "extra_ids": kT5DefaultExtraIds when the file or the key is absent;
// InvalidArgument naming the file when it is not an integer in [0, kT5MaxExtraIds].
absl::StatusOr<int> ReadT5ExtraIds(const std::string& tokenizer_config_json);

}  // namespace lmeye
