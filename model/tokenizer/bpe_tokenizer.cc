#include "model/tokenizer/bpe_tokenizer.h"

#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/byte_level.h"
#include "model/common/file_util.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<ByteLevelBpeTokenizer>> ByteLevelBpeTokenizer::Create(
    ByteLevelBpeConfig config, TokenizerFamily family) {
  auto tok = std::unique_ptr<ByteLevelBpeTokenizer>(new ByteLevelBpeTokenizer(family));
  const std::string& source = config.source;

  int max_id = -1;
  for (const auto& [piece, id] : config.vocab) max_id = std::max(max_id, id);
  for (const auto& added : config.added_tokens) max_id = std::max(max_id, added.id);
  if (max_id < 0) return absl::InvalidArgumentError(absl::StrCat(source, ": empty vocabulary"));
  // Ids index tables: a stray huge id must be an error, not a multi-gigabyte allocation.
  const size_t n_entries = config.vocab.size() + config.added_tokens.size();
  if (static_cast<size_t>(max_id) >= 2 * n_entries + 1024) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": id ", max_id, " is far beyond the ",
                                                   n_entries, " entries of the vocabulary"));
  }
  tok->pieces_.resize(max_id + 1);
  tok->token_bytes_.resize(max_id + 1);
  std::vector<bool> seen(max_id + 1, false);
  tok->piece_to_id_.reserve(config.vocab.size() + config.added_tokens.size());
  for (auto& [piece, id] : config.vocab) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": negative id ", id, " for token '", piece, "'"));
    }
    if (seen[id]) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": id ", id, " is used twice (again by '", piece, "')"));
    }
    seen[id] = true;
    tok->token_bytes_[id] = ByteLevelDecode(piece);
    tok->piece_to_id_.emplace(piece, id);
    tok->pieces_[id] = std::move(piece);
  }
  // Added tokens are usually also in the vocabulary under the same id (BLOOM's <s>); their text
  // is taken literally, not through the byte-level alphabet, as Hugging Face decodes them.
  for (const auto& added : config.added_tokens) {
    if (added.id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": negative id for added token '", added.content, "'"));
    }
    if (seen[added.id] && tok->pieces_[added.id] != added.content) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": added token '", added.content, "' has id ", added.id,
                       ", which the vocabulary gives to '", tok->pieces_[added.id], "'"));
    }
    seen[added.id] = true;
    tok->pieces_[added.id] = added.content;
    tok->token_bytes_[added.id] = added.content;
    tok->piece_to_id_.emplace(added.content, added.id);
    if (added.special) tok->special_ids_.insert(added.id);
  }

  for (int b = 0; b < 256; ++b) {
    auto it = tok->piece_to_id_.find(ByteLevelEncode(std::string(1, static_cast<char>(b))));
    tok->byte_symbol_[b] = it == tok->piece_to_id_.end() ? -1 : it->second;
  }
  if (!config.unk_token.empty()) {
    auto it = tok->piece_to_id_.find(config.unk_token);
    if (it == tok->piece_to_id_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": unk_token '", config.unk_token, "' is not in the vocabulary"));
    }
    tok->unk_id_ = it->second;
  }

  std::vector<BpeMerge> merges;
  merges.reserve(config.merges.size());
  for (size_t i = 0; i < config.merges.size(); ++i) {
    // Named references, not a structured binding: C++17 lets no lambda capture a binding (GCC
    // accepts it anyway, clang does not).
    const std::string& left = config.merges[i].first;
    const std::string& right = config.merges[i].second;
    auto lookup = [&](const std::string& piece) -> absl::StatusOr<int> {
      auto it = tok->piece_to_id_.find(piece);
      if (it == tok->piece_to_id_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": merge ", i + 1, " ('", left, " ",
                                                       right, "') uses '", piece,
                                                       "', which is not in the vocabulary"));
      }
      return it->second;
    };
    LMEYE_ASSIGN_OR_RETURN(int left_id, lookup(left));
    LMEYE_ASSIGN_OR_RETURN(int right_id, lookup(right));
    LMEYE_ASSIGN_OR_RETURN(int merged_id, lookup(left + right));
    merges.push_back({left_id, right_id, merged_id});
  }
  tok->model_ = BpeModel(merges);
  tok->pretokenizer_ = std::move(config.pretokenizer);
  tok->ignore_merges_ = config.ignore_merges;
  return tok;
}

absl::StatusOr<std::vector<int>> ByteLevelBpeTokenizer::Encode(absl::string_view text) const {
  std::vector<int> ids;
  std::string storage;
  std::vector<absl::string_view> words;
  pretokenizer_.Split(text, &storage, &words);
  ids.reserve(text.size() / 3 + 1);
  for (absl::string_view word : words) EncodeWord(word, &ids);
  return ids;
}

void ByteLevelBpeTokenizer::EncodeWord(absl::string_view word, std::vector<int>* ids) const {
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock<std::shared_mutex> lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> symbols;
  bool done = false;
  if (ignore_merges_) {
    if (auto it = piece_to_id_.find(ByteLevelEncode(word)); it != piece_to_id_.end()) {
      symbols.push_back(it->second);
      done = true;
    }
  }
  if (!done) {
    symbols.reserve(word.size());
    for (char c : word) {
      const int id = byte_symbol_[static_cast<uint8_t>(c)];
      if (id >= 0) {
        symbols.push_back(id);
      } else if (unk_id_ >= 0) {
        symbols.push_back(unk_id_);
      }
    }
    model_.Merge(&symbols);
  }
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::unique_lock<std::shared_mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(symbols));
  }
}

absl::string_view ByteLevelBpeTokenizer::BaseTokenBytes(int id, bool /*at_text_start*/) const {
  return token_bytes_[id];
}

std::optional<int> ByteLevelBpeTokenizer::BasePieceToId(absl::string_view piece) const {
  auto it = piece_to_id_.find(piece);
  if (it == piece_to_id_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<ByteLevelBpeConfig> ReadBpeFiles(const std::string& vocab_json,
                                                const std::string& merges) {
  ByteLevelBpeConfig config;
  config.source = absl::StrCat(vocab_json, " + ", merges);
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json vocab, ReadJsonFile(vocab_json));
  if (!vocab.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_json, ": expected a JSON object of token -> id"));
  }
  config.vocab.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab_json, ": the id of '", it.key(), "' is not an integer"));
    }
    config.vocab.emplace_back(it.key(), it.value().get<int>());
  }

  LMEYE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(merges));
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_number == 1 && absl::StartsWith(line, "#version")) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          merges, " line ", line_number, ": expected two tokens separated by a space, got '",
          line.substr(0, 80), "'"));
    }
    config.merges.emplace_back(std::string(parts[0]), std::string(parts[1]));
  }
  return config;
}

}  // namespace lmeye
