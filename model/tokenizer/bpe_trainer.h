// Training a byte-level BPE vocabulary (GPT-2 style) from text, for models that bring a small
// vocabulary of their own (the demo model), and saving the result as a Hugging Face
// tokenizer.json that LoadTokenizer() (and Hugging Face `tokenizers`) reads.
//
// The algorithm is Hugging Face's BpeTrainer for a ByteLevel pre-tokenizer:
//   1. Split every text into words with the encoder's own GPT-2 pre-tokenizer (SplitGpt2; no
//      prefix space), so training sees exactly the words encoding will see, and count them.
//   2. Start from the 256 single-byte symbols: every byte is in the vocabulary, so any text,
//      including bytes never seen in training, encodes (byte fallback needs no <unk>).
//   3. Repeatedly merge the most frequent adjacent pair of symbols inside words, counting a pair
//      once per occurrence times the word's frequency, until the vocabulary is full, no pair is
//      left, or the best pair occurs fewer than min_frequency times.
// Pair counts are updated incrementally (only the words holding the merged pair are revisited,
// found through a pair -> words index; stale heap entries are re-pushed lazily), so a few
// megabytes of text train in seconds.
//
// Determinism: ties between pairs of equal count go to the pair whose (left, right) raw bytes
// compare smallest (std::string order, bytes unsigned), never to hash or id order. Texts are
// only counted, so their order does not matter either: the same multiset of texts gives the
// same vocabulary, merges and JSON, byte for byte.
//
// Ids: special tokens first (0..k-1, in the order given), then the 256 bytes in byte order
// (id k + b for byte b), then merged tokens in merge order, so vocab = k + 256 + merges. (Should
// a merge ever rebuild a token another split made, "ab"+"c" vs "a"+"bc", it reuses that id as
// Hugging Face does; random corpora have not produced one.)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

// Which special token plays which role in the written files; each must be "" (none) or one of
// BpeTrainerOptions::special_tokens. The defaults are OPT's (tokenizer_family.cc): its
// tokenizer_config.json sets bos_token to `</s>`.
struct SpecialTokenRoles {
  std::string bos = "</s>";
  std::string eos = "</s>";
  std::string pad = "<pad>";
  std::string unk = "<unk>";
  // Whether encoding a prompt prepends `bos` (written as the post-processor's template and as
  // tokenizer_config.json's add_bos_token). Requires a bos.
  bool add_bos = true;
};

struct BpeTrainerOptions {
  // Total ids: special tokens + 256 bytes + merged tokens. At least special_tokens + 256. The
  // result has exactly this many unless merges run out first (see BpeTrainResult::vocab).
  int vocab_size = 8192;
  // A pair is merged only if it occurs at least this often in the corpus (counting repeated
  // words); 1 merges down to pairs seen once. Must be >= 1.
  int64_t min_frequency = 2;
  // Raw text: valid UTF-8, unique, non-empty; ids 0..k-1 in this order. Reached by id only: Encode
  // never produces them, and training never merges bytes into a token that equals one. The default
  // is OPT's layout (fairseq's dictionary order): <s>=0 <pad>=1 </s>=2 <unk>=3. LoadTokenizer
  // guesses the OPT family from <s>=0 </s>=2 even without a config.json, and the demo LLM is
  // OPT-shaped, so it gets OPT's conventions: `</s>` is BOS and EOS, prepended.
  std::vector<std::string> special_tokens = {"<s>", "<pad>", "</s>", "<unk>"};
  SpecialTokenRoles roles;
};

struct BpeTrainResult {
  // id -> stored form: special tokens as their raw text, every other token in the byte-level
  // alphabet (byte_level.h; " the" is "Ġthe"). Size <= options.vocab_size: smaller when no pair
  // reaches min_frequency or none is left (every word is a single token).
  std::vector<std::string> vocab;
  int n_special = 0;  // vocab[0, n_special) are the special tokens
  // Merges in rank order, as byte-level text ("Ġ", "t"); the result vocab entry is left+right.
  std::vector<std::pair<std::string, std::string>> merges;
  // How often each merge's pair occurred when it was chosen: non-increasing, since a merge only
  // removes pairs or creates pairs no more frequent than the merged one.
  std::vector<int64_t> merge_counts;
  SpecialTokenRoles roles;
};

// Trains on `texts` (any bytes; invalid UTF-8 is split byte by byte like the encoder does).
// InvalidArgument for bad options: vocab_size too small, min_frequency < 1, empty or duplicate
// special tokens, ones that are not UTF-8 or are spelled like a byte's symbol ("!", "Ġ"), a role
// naming a token that is not a special token, add_bos without a bos. Pure function: thread-safe;
// memory grows with the number of distinct words.
absl::StatusOr<BpeTrainResult> TrainByteLevelBpe(const std::vector<std::string>& texts,
                                                 const BpeTrainerOptions& options);

// --- Saving: Hugging Face tokenizer files, the inverse of hf_tokenizer_json.h, in the subset of
// the format that reader supports and that Hugging Face `tokenizers` / transformers read unchanged.
//
// tokenizer.json (version "1.0"): special tokens in model.vocab and in added_tokens (special,
// not normalized); normalizer null; pre_tokenizer ByteLevel (add_prefix_space false,
// trim_offsets true, use_regex true: the GPT-2 regex the trainer split with); decoder
// ByteLevel; model BPE with dropout/unk_token null, merges as "left right" strings. The
// post_processor is a TemplateProcessing "<bos> $A" when roles.add_bos (OPT prepends `</s>`; our
// loader takes the template's leading token as BOS), else ByteLevel (GPT-2's, adds nothing).
//
// Files are ordered_json so they read like the ones Hugging Face writes: keys in its order, the
// vocabulary by id. Each function takes `result` as TrainByteLevelBpe returned it (roles naming
// special tokens, vocabulary entries unique).

// The tokenizer.json document.
nlohmann::ordered_json ToHfTokenizerJson(const BpeTrainResult& result);

// tokenizer_config.json: the roles' tokens, add_bos_token, tokenizer_class
// "PreTrainedTokenizerFast" (transformers then loads tokenizer.json as it is; GPT2TokenizerFast
// would reject add_bos_token in older releases). Our loader reads the same keys.
nlohmann::ordered_json ToTokenizerConfigJson(const BpeTrainResult& result);

// special_tokens_map.json: the roles' tokens, and the special tokens that have no role as
// additional_special_tokens.
nlohmann::ordered_json ToSpecialTokensMapJson(const BpeTrainResult& result);

// Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir` (created,
// with parents, if missing; files there are replaced). Not config.json: that belongs to the
// model, whose model_type ("opt") names the family. Internal error naming the file when a write
// fails; a failed call may leave some of the files written.
absl::Status WriteTokenizerDir(const BpeTrainResult& result, const std::string& dir);

}  // namespace lmeye
