// Byte-level BPE (GPT-2, OPT, BLOOM): text -> words (pre-tokenizer) -> bytes -> byte-level
// symbols -> ranked merges -> ids.
//
// Built from a ByteLevelBpeConfig, which the file loaders fill: GPT-2's encoder.json/vocab.json
// + vocab.bpe/merges.txt (LoadBpeFiles below) or a Hugging Face tokenizer.json
// (hf_tokenizer_json.h). Special tokens are set by the factory (tokenizer_factory.h).
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "model/tokenizer/bpe_model.h"
#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

struct ByteLevelBpeConfig {
  struct AddedToken {
    int id;
    std::string content;  // raw text, not in the byte-level alphabet
    bool special;         // special tokens are skipped by Decode
  };
  std::vector<std::pair<std::string, int>> vocab;           // byte-level text -> id
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
  std::vector<AddedToken> added_tokens;
  PreTokenizer pretokenizer{{SplitRule::kGpt2}, /*add_prefix_space=*/false};
  // Hugging Face BPE `ignore_merges`: a word that is itself a vocabulary entry is one token.
  bool ignore_merges = false;
  // Hugging Face BPE `unk_token`: stands for a byte whose symbol the vocabulary lacks. Empty:
  // such bytes are dropped, as Hugging Face does. (GPT-2, OPT and BLOOM have all 256 symbols.)
  std::string unk_token;
  // Named in every error message ("…/vocab.json + …/merges.txt").
  std::string source;
};

class ByteLevelBpeTokenizer : public Tokenizer {
 public:
  // Validates the config: ids unique, non-negative and dense enough, every merge's parts and
  // result in the vocabulary, unk_token (if set) in it. Errors name config.source.
  static absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> Create(ByteLevelBpeConfig config,
                                                                       TokenizerFamily family);

  absl::StatusOr<std::vector<int>> Encode(absl::string_view text) const override;
  using Tokenizer::Encode;

  const PreTokenizer& pretokenizer() const { return pretokenizer_; }

 protected:
  int BaseVocabSize() const override { return static_cast<int>(pieces_.size()); }
  absl::string_view BaseTokenBytes(int id, bool at_text_start) const override;
  bool IsBaseSpecial(int id) const override { return special_ids_.contains(id); }
  std::string BaseIdToPiece(int id) const override { return pieces_[id]; }
  std::optional<int> BasePieceToId(absl::string_view piece) const override;

 private:
  explicit ByteLevelBpeTokenizer(TokenizerFamily family) : Tokenizer(family) {}

  // Appends the ids of one pre-tokenized word, through the cache.
  void EncodeWord(absl::string_view word, std::vector<int>* ids) const;

  PreTokenizer pretokenizer_;
  BpeModel model_;
  bool ignore_merges_ = false;
  int byte_symbol_[256];  // id of each byte's one-character symbol, -1 if the vocab lacks it
  int unk_id_ = -1;       // for bytes without a symbol; -1 drops them
  absl::flat_hash_map<std::string, int> piece_to_id_;  // vocabulary and added tokens
  std::vector<std::string> pieces_;                    // id -> stored form ("" for holes)
  std::vector<std::string> token_bytes_;               // id -> raw bytes
  absl::flat_hash_set<int> special_ids_;

  // Word -> ids. Natural text repeats words, so most words skip the merge loop. Bounded: cleared
  // when full; long words are not cached.
  static constexpr size_t kMaxCacheEntries = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 64;
  mutable std::shared_mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::vector<int>> cache_;
};

// Reads GPT-2-format files: `vocab_json` (encoder.json or vocab.json: an object of byte-level
// token -> id) and `merges` (vocab.bpe or merges.txt: an optional "#version" line, then one
// "left right" pair per line). GPT-2 split regex, no prefix space.
absl::StatusOr<ByteLevelBpeConfig> ReadBpeFiles(const std::string& vocab_json,
                                                const std::string& merges);

}  // namespace lmeye
