// The merge step of byte-pair encoding, on token ids: given a word as a sequence of symbol ids,
// apply the ranked merges until none applies.
//
// Semantics are those of OpenAI's encoder.py `bpe()` and Hugging Face's BPE model: repeatedly
// merge the adjacent pair with the lowest rank, leftmost first. Done with a heap of candidate
// pairs and a linked list of symbols, O(n log n) in the word length, so a pathological long
// word (a run of 100k letters is one GPT-2 word) cannot make encode quadratic.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace lmeye {

struct BpeMerge {
  int left;
  int right;
  int merged;  // the id of left's text followed by right's
};

// Immutable after construction; thread-safe.
class BpeModel {
 public:
  BpeModel() = default;
  // `merges` in rank order (first = applied first). A pair listed twice keeps its first rank,
  // as Hugging Face does.
  explicit BpeModel(const std::vector<BpeMerge>& merges);

  // Merges `symbols` in place.
  void Merge(std::vector<int>* symbols) const;

  size_t num_merges() const { return pairs_.size(); }

 private:
  struct Rule {
    int rank;
    int merged;
  };
  static uint64_t Key(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const Rule* Find(int left, int right) const {
    auto it = pairs_.find(Key(left, right));
    return it == pairs_.end() ? nullptr : &it->second;
  }

  absl::flat_hash_map<uint64_t, Rule> pairs_;
};

}  // namespace lmeye
