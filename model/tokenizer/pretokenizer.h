// Pre-tokenization of byte-level BPE: splitting text into words before BPE merges, written by
// hand because the patterns use Unicode classes std::regex lacks (see unicode_tables.h).
//
// Each rule reproduces one regex exactly, including its alternation order and backtracking:
//   kGpt2:  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//           (GPT-2, OPT, RoBERTa; Hugging Face ByteLevel with use_regex=true)
//   kBloom: Split(" ?[^(\s|[.,!?…。，、।۔،])]+", behavior=Isolated)  (BLOOM's tokenizer.json)
// Invalid UTF-8 bytes count as one "other" character each, so no input is rejected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lmeye {

enum class SplitRule { kGpt2, kBloom };

// Appends the words of `text` to `words`: views into `text` that concatenate back to it.
void SplitGpt2(absl::string_view text, std::vector<absl::string_view>* words);
void SplitBloom(absl::string_view text, std::vector<absl::string_view>* words);

// The split rule a Hugging Face Split pre-tokenizer's regex source stands for, or nullopt when
// it is not one this file implements.
std::optional<SplitRule> SplitRuleForRegex(absl::string_view regex);

// The GPT-2 regex source, as written in tokenizer.json.
extern const char kGpt2SplitRegex[];

// A sequence of split rules applied one after another (each rule splits every word of the
// previous one), as a Hugging Face Sequence pre-tokenizer does. Immutable; thread-safe.
class PreTokenizer {
 public:
  PreTokenizer() = default;
  PreTokenizer(std::vector<SplitRule> rules, bool add_prefix_space)
      : rules_(std::move(rules)), add_prefix_space_(add_prefix_space) {}

  // Splits `text` into `words` (cleared first). With add_prefix_space a space is put before a
  // text that does not start with one (Hugging Face ByteLevel add_prefix_space); `storage`
  // then owns the bytes the words point into, so it must outlive them.
  void Split(absl::string_view text, std::string* storage,
             std::vector<absl::string_view>* words) const;

  const std::vector<SplitRule>& rules() const { return rules_; }
  bool add_prefix_space() const { return add_prefix_space_; }

 private:
  std::vector<SplitRule> rules_;
  bool add_prefix_space_ = false;
};

}  // namespace lmeye
