#include "model/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

using nlohmann::ordered_json;

constexpr int kNumBytes = 256;

uint64_t PairKey(int left, int right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int PairLeft(uint64_t key) { return static_cast<int>(key >> 32); }
int PairRight(uint64_t key) { return static_cast<int>(key & 0xffffffffu); }

bool IsValidUtf8(absl::string_view text) {
  while (!text.empty()) {
    const Utf8Sequence seq = ScanUtf8(text);
    if (seq.kind != Utf8Sequence::kComplete) return false;
    text.remove_prefix(seq.length);
  }
  return true;
}

absl::Status ValidateOptions(const BpeTrainerOptions& options) {
  const int n_special = static_cast<int>(options.special_tokens.size());
  if (options.vocab_size < n_special + kNumBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vocab_size ", options.vocab_size, " is below the ", n_special, " special tokens + ",
        kNumBytes, " byte tokens every byte-level vocabulary holds"));
  }
  if (options.min_frequency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_frequency must be >= 1, got ", options.min_frequency));
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& token : options.special_tokens) {
    if (token.empty()) return absl::InvalidArgumentError("a special token is empty");
    // Written into JSON, which holds text only.
    if (!IsValidUtf8(token)) {
      return absl::InvalidArgumentError(
          absl::StrCat("special token '", absl::CHexEscape(token), "' is not valid UTF-8"));
    }
    if (!seen.insert(token).second) {
      return absl::InvalidArgumentError(absl::StrCat("special token '", token, "' is repeated"));
    }
    // The vocabulary is one JSON object keyed by stored form: a special token spelled like a
    // byte's symbol would overwrite it.
    if (ByteLevelEncode(ByteLevelDecode(token)) == token && ByteLevelDecode(token).size() == 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("special token '", token, "' is the symbol of a byte token"));
    }
  }
  const SpecialTokenRoles& roles = options.roles;
  for (const auto& [name, token] : {std::pair<const char*, const std::string&>{"bos", roles.bos},
                                    {"eos", roles.eos},
                                    {"pad", roles.pad},
                                    {"unk", roles.unk}}) {
    if (!token.empty() && !seen.contains(token)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", name, " token '", token, "' is not one of the special tokens"));
    }
  }
  if (roles.add_bos && roles.bos.empty()) {
    return absl::InvalidArgumentError("add_bos is set but there is no bos token");
  }
  return absl::OkStatus();
}

// One training run. Token ids here are internal: 0..255 the bytes, then merged tokens; the
// special tokens are put in front only in Finish().
class Trainer {
 public:
  explicit Trainer(const BpeTrainerOptions& options) : options_(options) {
    token_bytes_.reserve(options.vocab_size);
    for (int b = 0; b < kNumBytes; ++b) {
      token_bytes_.emplace_back(1, static_cast<char>(b));
      id_of_bytes_.emplace(token_bytes_.back(), b);
    }
    for (const std::string& token : options.special_tokens) special_forms_.insert(token);
  }

  void CountWords(const std::vector<std::string>& texts) {
    absl::flat_hash_map<std::string, int64_t> counts;
    std::vector<absl::string_view> pieces;
    for (const std::string& text : texts) {
      pieces.clear();
      SplitGpt2(text, &pieces);
      for (absl::string_view piece : pieces) ++counts[piece];
    }
    words_.reserve(counts.size());
    for (const auto& [text, count] : counts) {
      Word word;
      word.count = count;
      word.symbols.reserve(text.size());
      for (char c : text) word.symbols.push_back(static_cast<uint8_t>(c));
      words_.push_back(std::move(word));
    }
    for (int w = 0; w < static_cast<int>(words_.size()); ++w) {
      const std::vector<int>& s = words_[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t pair = PairKey(s[i], s[i + 1]);
        pair_counts_[pair] += words_[w].count;
        where_[pair].push_back(w);
      }
    }
    for (const auto& [pair, count] : pair_counts_) Push({count, pair});
  }

  void Train() {
    const size_t n_special = options_.special_tokens.size();
    while (n_special + token_bytes_.size() < static_cast<size_t>(options_.vocab_size) &&
           !heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), RanksBelow());
      const Candidate top = heap_.back();
      heap_.pop_back();
      const int64_t count = Count(top.pair);
      // Counts only fall after an entry is pushed (or a fresher, larger entry exists), so a
      // stale entry goes back with its current count and the true best surfaces.
      if (count != top.count) {
        if (count > 0) Push({count, top.pair});
        continue;
      }
      if (count < options_.min_frequency) break;  // the best pair: no other is more frequent
      const std::string merged =
          token_bytes_[PairLeft(top.pair)] + token_bytes_[PairRight(top.pair)];
      if (special_forms_.contains(ByteLevelEncode(merged))) continue;  // would shadow a special
      ApplyMerge(top.pair, merged, count);
    }
  }

  BpeTrainResult Finish() && {
    BpeTrainResult result;
    result.n_special = static_cast<int>(options_.special_tokens.size());
    result.roles = options_.roles;
    result.vocab = options_.special_tokens;
    for (const std::string& bytes : token_bytes_) result.vocab.push_back(ByteLevelEncode(bytes));
    result.merges.reserve(merges_.size());
    for (uint64_t pair : merges_) {
      result.merges.emplace_back(ByteLevelEncode(token_bytes_[PairLeft(pair)]),
                                 ByteLevelEncode(token_bytes_[PairRight(pair)]));
    }
    result.merge_counts = std::move(merge_counts_);
    return result;
  }

 private:
  struct Word {
    std::vector<int> symbols;
    int64_t count = 0;  // occurrences in the corpus
  };
  struct Candidate {
    int64_t count;  // the pair's count when pushed: >= its current count
    uint64_t pair;
  };
  // Heap order: higher count first, then the pair whose (left, right) bytes compare smallest.
  // Token bytes are unique per id, so this is a total order on pairs: deterministic pops.
  struct RanksBelowFn {
    const Trainer* trainer;
    bool operator()(const Candidate& a, const Candidate& b) const {
      if (a.count != b.count) return a.count < b.count;
      const std::vector<std::string>& bytes = trainer->token_bytes_;
      const int order = bytes[PairLeft(a.pair)].compare(bytes[PairLeft(b.pair)]);
      if (order != 0) return order > 0;
      return bytes[PairRight(a.pair)] > bytes[PairRight(b.pair)];
    }
  };
  RanksBelowFn RanksBelow() const { return RanksBelowFn{this}; }

  void Push(Candidate candidate) {
    heap_.push_back(candidate);
    std::push_heap(heap_.begin(), heap_.end(), RanksBelow());
  }

  int64_t Count(uint64_t pair) const {
    auto it = pair_counts_.find(pair);
    return it == pair_counts_.end() ? 0 : it->second;
  }

  void AddCount(uint64_t pair, int64_t delta) {
    auto it = pair_counts_.try_emplace(pair, 0).first;
    it->second += delta;
    if (it->second == 0) pair_counts_.erase(it);
  }

  // Records the merge of `pair` into the token `merged` and rewrites every word holding it.
  void ApplyMerge(uint64_t pair, const std::string& merged, int64_t count) {
    const int left = PairLeft(pair);
    const int right = PairRight(pair);
    // Another split may already have made this token: reuse its id (Hugging Face does too).
    const auto [it, is_new] =
        id_of_bytes_.try_emplace(merged, static_cast<int>(token_bytes_.size()));
    if (is_new) token_bytes_.push_back(merged);
    const int merged_id = it->second;
    merges_.push_back(pair);
    merge_counts_.push_back(count);

    // Moved out: inserting into where_ below may rehash it. The pair disappears from every word
    // (a left-to-right rewrite leaves no adjacent left, right), so its index entry goes.
    std::vector<int> holders = std::move(where_[pair]);
    where_.erase(pair);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());

    std::vector<uint64_t> created;  // pairs that contain merged_id: the only ones that grew
    std::vector<int> rewritten;
    for (int w : holders) {
      Word& word = words_[w];
      std::vector<int>& s = word.symbols;
      rewritten.clear();
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          rewritten.push_back(merged_id);
          ++i;
        } else {
          rewritten.push_back(s[i]);
        }
      }
      if (rewritten.size() == s.size()) continue;  // index entry left from an earlier rewrite
      // Whole-word delta: pairs away from the merge cancel out, and words are short.
      for (size_t i = 0; i + 1 < s.size(); ++i) AddCount(PairKey(s[i], s[i + 1]), -word.count);
      for (size_t i = 0; i + 1 < rewritten.size(); ++i) {
        const uint64_t p = PairKey(rewritten[i], rewritten[i + 1]);
        AddCount(p, word.count);
        if (rewritten[i] == merged_id || rewritten[i + 1] == merged_id) {
          created.push_back(p);
          where_[p].push_back(w);
        }
      }
      s.swap(rewritten);
    }
    std::sort(created.begin(), created.end());
    created.erase(std::unique(created.begin(), created.end()), created.end());
    for (uint64_t p : created) {
      if (const int64_t c = Count(p); c > 0) Push({c, p});
    }
  }

  const BpeTrainerOptions& options_;
  std::vector<std::string> token_bytes_;  // internal id -> raw bytes
  absl::flat_hash_map<std::string, int> id_of_bytes_;
  absl::flat_hash_set<std::string> special_forms_;
  std::vector<Word> words_;
  absl::flat_hash_map<uint64_t, int64_t> pair_counts_;  // absent = 0
  // pair -> indices of words that held it when it was created; may hold duplicates and words
  // that no longer hold it (rewrites skip them), never miss one that does.
  absl::flat_hash_map<uint64_t, std::vector<int>> where_;
  std::vector<Candidate> heap_;  // a max-heap under RanksBelow()
  std::vector<uint64_t> merges_;
  std::vector<int64_t> merge_counts_;
};

// --- Saving. ---

ordered_json ByteLevelStep() {
  ordered_json step;
  step["type"] = "ByteLevel";
  step["add_prefix_space"] = false;
  step["trim_offsets"] = true;
  step["use_regex"] = true;
  return step;
}

ordered_json SpecialTokenItem(const std::string& token, int type_id) {
  return {{"SpecialToken", {{"id", token}, {"type_id", type_id}}}};
}

ordered_json SequenceItem(const char* id, int type_id) {
  return {{"Sequence", {{"id", id}, {"type_id", type_id}}}};
}

int IdOf(const BpeTrainResult& result, const std::string& token) {
  for (int id = 0; id < result.n_special; ++id) {
    if (result.vocab[id] == token) return id;
  }
  return -1;  // unreachable: TrainByteLevelBpe checked every role
}

// "<bos> $A" and, for pairs, "<bos> $A <bos> $B:1": what OPT's (GPT-2's slow tokenizer with
// add_bos_token) build_inputs_with_special_tokens gives.
ordered_json PrependingPostProcessor(const BpeTrainResult& result) {
  const std::string& bos = result.roles.bos;
  ordered_json post;
  post["type"] = "TemplateProcessing";
  post["single"] = ordered_json::array({SpecialTokenItem(bos, 0), SequenceItem("A", 0)});
  post["pair"] = ordered_json::array({SpecialTokenItem(bos, 0), SequenceItem("A", 0),
                                      SpecialTokenItem(bos, 1), SequenceItem("B", 1)});
  ordered_json entry;
  entry["id"] = bos;
  entry["ids"] = ordered_json::array({IdOf(result, bos)});
  entry["tokens"] = ordered_json::array({bos});
  post["special_tokens"] = {{bos, entry}};
  return post;
}

// Each role as the plain-string form both our loader and transformers accept.
void PutRoles(const SpecialTokenRoles& roles, ordered_json* out) {
  const std::pair<const char*, const std::string*> slots[] = {{"bos_token", &roles.bos},
                                                              {"eos_token", &roles.eos},
                                                              {"pad_token", &roles.pad},
                                                              {"unk_token", &roles.unk}};
  for (const auto& [key, token] : slots) {
    if (!token->empty()) (*out)[key] = *token;
  }
}

// Whole or not at all: a reader never sees half a file.
absl::Status WriteJson(const std::filesystem::path& path, const ordered_json& doc) {
  return WriteFileAtomically(path.string(), doc.dump(2) + "\n");
}

}  // namespace

absl::StatusOr<BpeTrainResult> TrainByteLevelBpe(const std::vector<std::string>& texts,
                                                 const BpeTrainerOptions& options) {
  LMEYE_RETURN_IF_ERROR(ValidateOptions(options));
  Trainer trainer(options);
  trainer.CountWords(texts);
  trainer.Train();
  return std::move(trainer).Finish();
}

ordered_json ToHfTokenizerJson(const BpeTrainResult& result) {
  ordered_json added = ordered_json::array();
  for (int id = 0; id < result.n_special; ++id) {
    ordered_json token;
    token["id"] = id;
    token["content"] = result.vocab[id];
    token["single_word"] = false;
    token["lstrip"] = false;
    token["rstrip"] = false;
    token["normalized"] = false;
    token["special"] = true;
    added.push_back(std::move(token));
  }
  // ordered_json's map looks keys up linearly; the entries are unique (the trainer keeps them
  // so), so they are appended to its vector directly instead of inserted one by one, O(n^2).
  ordered_json::object_t vocab_entries;
  auto& entries = static_cast<ordered_json::object_t::Container&>(vocab_entries);
  entries.reserve(result.vocab.size());
  for (int id = 0; id < static_cast<int>(result.vocab.size()); ++id) {
    entries.emplace_back(result.vocab[id], id);
  }
  ordered_json vocab(std::move(vocab_entries));
  ordered_json merges = ordered_json::array();
  for (const auto& [left, right] : result.merges) merges.push_back(absl::StrCat(left, " ", right));

  ordered_json model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;  // all 256 bytes are tokens: nothing is unknown
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;  // sentencepiece's <0xNN> pieces; ours are plain byte tokens
  model["ignore_merges"] = false;
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);

  ordered_json doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = std::move(added);
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] = ByteLevelStep();
  doc["post_processor"] = result.roles.add_bos ? PrependingPostProcessor(result) : ByteLevelStep();
  doc["decoder"] = ByteLevelStep();
  doc["model"] = std::move(model);
  return doc;
}

ordered_json ToTokenizerConfigJson(const BpeTrainResult& result) {
  ordered_json config;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  config["add_bos_token"] = result.roles.add_bos;
  config["add_prefix_space"] = false;
  // Decoding must give back the text as encoded, not tidy spaces before punctuation.
  config["clean_up_tokenization_spaces"] = false;
  PutRoles(result.roles, &config);
  return config;
}

ordered_json ToSpecialTokensMapJson(const BpeTrainResult& result) {
  ordered_json map;
  PutRoles(result.roles, &map);
  ordered_json extra = ordered_json::array();
  const SpecialTokenRoles& roles = result.roles;
  for (int id = 0; id < result.n_special; ++id) {
    const std::string& token = result.vocab[id];
    if (token != roles.bos && token != roles.eos && token != roles.pad && token != roles.unk) {
      extra.push_back(token);
    }
  }
  if (!extra.empty()) map["additional_special_tokens"] = std::move(extra);
  return map;
}

absl::Status WriteTokenizerDir(const BpeTrainResult& result, const std::string& dir) {
  const std::filesystem::path root(dir);
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", dir, ": ", ec.message()));
  LMEYE_RETURN_IF_ERROR(WriteJson(root / "tokenizer.json", ToHfTokenizerJson(result)));
  LMEYE_RETURN_IF_ERROR(WriteJson(root / "tokenizer_config.json", ToTokenizerConfigJson(result)));
  LMEYE_RETURN_IF_ERROR(
      WriteJson(root / "special_tokens_map.json", ToSpecialTokensMapJson(result)));
  return absl::OkStatus();
}

}  // namespace lmeye
