// The tokenizer interface: text <-> token ids for the LLM families LMEye serves.
//
// Implementations: ByteLevelBpeTokenizer (GPT-2, OPT, BLOOM; bpe_tokenizer.h) and
// SentencePieceTokenizer (LLaMA, T5; sentencepiece_tokenizer.h). Build one with LoadTokenizer()
// (tokenizer_factory.h).
//
// Special tokens are reached only by id. Encode() never produces one from text: "<img-d>" or
// "</s>" typed by a user is tokenized as ordinary characters, so no prompt can forge a slot or
// an end of sequence. Callers insert BOS, `<img>`, `<img-d>` themselves by id. The one
// exception is explicit: EncodeWithAddedTokens() parses them, for prompt templates that a
// reference implementation tokenized whole (LMEye v0.1's "... <img-q> <img-d> ...").
//
// Threading: after set-up (AddSpecialToken, set_special_tokens) a Tokenizer is immutable apart
// from internal caches that are locked, and all const methods may be called from any thread.
// Set-up methods must finish before the tokenizer is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/tokenizer/added_token_splitter.h"
#include "model/tokenizer/tokenizer_family.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {

// Ids of a tokenizer's special tokens; -1 where the tokenizer has none.
struct SpecialTokens {
  int bos_id = -1;
  int eos_id = -1;
  int pad_id = -1;
  int unk_id = -1;
  bool add_bos = false;  // whether EncodeForPrompt() prepends bos_id (per family)
  bool add_eos = false;  // whether EncodeForPrompt() appends eos_id (T5)
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Raw encoding: the ids of `text` alone, no BOS/EOS, no special tokens (see above). Errors only
  // where the backend reports one (SentencePiece); byte-level BPE accepts any bytes.
  virtual absl::StatusOr<std::vector<int>> Encode(absl::string_view text) const = 0;

  // Encode() with bos_id prepended when `add_bos` (error if the tokenizer has no BOS).
  absl::StatusOr<std::vector<int>> Encode(absl::string_view text, bool add_bos) const;

  // What the family's Hugging Face tokenizer gives by default: Encode() plus BOS for OPT
  // (`</s>`) and LLaMA (`<s>`), plus EOS after it for T5 (`</s>`), nothing for GPT-2 and BLOOM.
  // Use it for the start of a prompt (for T5: for a whole encoder input).
  absl::StatusOr<std::vector<int>> EncodeForPrompt(absl::string_view text) const;

  // What EncodeForPrompt() puts before the text: {bos_id} where the family adds a BOS, else {}.
  // The P of docs/DESIGN.md section 2, for callers that assemble a prompt from pieces.
  std::vector<int> PromptPrefix() const;
  // What EncodeForPrompt() puts after the text: {eos_id} for T5, else {}.
  std::vector<int> PromptSuffix() const;

  // Hugging Face's tokenizer(text, add_special_tokens=...) on a template: the added tokens
  // (AddSpecialToken(): added_tokens.json entries, additional_special_tokens such as T5's
  // <extra_id_N>) and the bos/eos/pad/unk pieces are recognized in `text` (leftmost, longest;
  // added_token_splitter.h), and each stretch of text between them is Encode()d on its own,
  // with the white space next to a token dropped where the family's tokenizer drops it
  // (FamilyTokenSpec::strip_around_added_tokens; T5 and LLaMA) and empty stretches skipped. With
  // `add_special_tokens`, PromptPrefix() and PromptSuffix() go around the result. Never use it
  // on user text: a user could type "<img-d>" or "</s>".
  absl::StatusOr<std::vector<int>> EncodeWithAddedTokens(absl::string_view text,
                                                         bool add_special_tokens = true) const;

  // The text of `ids`, skipping special tokens; invalid UTF-8 becomes U+FFFD (the way the
  // reference decoder does, see utf8_replacement()). For SentencePiece the first piece's
  // dummy-prefix space is dropped. Error if an id is outside [0, vocab_size()).
  absl::StatusOr<std::string> Decode(absl::Span<const int> ids) const;

  // The vocabulary entry as stored ("Ġworld", "▁world", "<0x0A>", "<img>"); "" when `id` is out
  // of range.
  std::string IdToPiece(int id) const;

  // The id of a vocabulary entry or added token, by its stored form ("Ġworld", "</s>").
  std::optional<int> PieceToId(absl::string_view piece) const;

  // Number of ids, added special tokens included: every id in [0, vocab_size()) decodes.
  int vocab_size() const;

  TokenizerFamily family() const { return family_; }
  const SpecialTokens& special_tokens() const { return special_tokens_; }
  int bos_id() const { return special_tokens_.bos_id; }
  int eos_id() const { return special_tokens_.eos_id; }
  int pad_id() const { return special_tokens_.pad_id; }

  // True for control tokens: bos/eos/pad, the tokenizer's own special tokens, and those added
  // with AddSpecialToken(). Decode skips them.
  bool IsSpecial(int id) const;

  // Set-up: registers `content` (e.g. "<img>") as a special token and returns its id. An entry
  // already in the vocabulary keeps its id; a new one gets the next free id, vocab_size() before
  // the call, as Hugging Face's add_special_tokens does. Adding the same content twice returns
  // the same id. The token is never produced by Encode().
  absl::StatusOr<int> AddSpecialToken(absl::string_view content);

  // Set-up: registers `content` as a special token with a given id, for checkpoints whose ids are
  // fixed elsewhere (an adapter trained with <img> = 50265). `id` may be an existing entry with
  // this content, or any id >= vocab_size(); ids skipped over become reserved special tokens
  // that decode to nothing, at most kMaxReservedGap of them. InvalidArgument when `id` holds
  // another token.
  absl::Status AddSpecialToken(absl::string_view content, int id);
  static constexpr int kMaxReservedGap = 1024;

  // Set-up: which family's conventions apply (the factory may only know after loading).
  void set_family(TokenizerFamily family) { family_ = family; }

  // Set-up: replaces the special-token ids (the factory applies family defaults and the model
  // directory's overrides). Ids must be -1 or in range.
  absl::Status set_special_tokens(const SpecialTokens& tokens);

  // --- For IncrementalDecoder. ---

  // The bytes token `id` contributes to decoded text; "" for special tokens. A token's bytes
  // need not be valid UTF-8 on their own. `at_text_start`: `id` is the first non-special token
  // of the text, where SentencePiece drops the dummy-prefix space. Error if out of range.
  absl::StatusOr<absl::string_view> TokenBytes(int id, bool at_text_start) const;

  // How Decode replaces invalid UTF-8, matching the reference implementation of the format.
  virtual Utf8Replacement utf8_replacement() const { return Utf8Replacement::kMaximalSubpart; }

 protected:
  explicit Tokenizer(TokenizerFamily family) : family_(family) {}

  // The backend's own vocabulary: ids [0, BaseVocabSize()).
  virtual int BaseVocabSize() const = 0;
  // Precondition for the following: 0 <= id < BaseVocabSize().
  virtual absl::string_view BaseTokenBytes(int id, bool at_text_start) const = 0;
  virtual bool IsBaseSpecial(int id) const = 0;
  virtual std::string BaseIdToPiece(int id) const = 0;
  virtual std::optional<int> BasePieceToId(absl::string_view piece) const = 0;

 private:
  TokenizerFamily family_;
  SpecialTokens special_tokens_;
  // AddSpecialToken(): content -> id, and the ids beyond the base vocabulary in order.
  absl::flat_hash_map<std::string, int> added_by_content_;
  absl::flat_hash_set<int> added_ids_;
  std::vector<std::string> added_beyond_base_;  // id = BaseVocabSize() + index
  // What EncodeWithAddedTokens() recognizes; kept current by the set-up methods (added tokens
  // are added to it, set_special_tokens rebuilds it).
  AddedTokenSplitter splitter_;
  void RebuildSplitter();
};

}  // namespace lmeye
