#include "model/tokenizer/tokenizer_factory.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/hf_tokenizer_json.h"
#include "model/tokenizer/hf_unigram_json.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/t5_tokenizer.h"

namespace lmeye {
namespace {

std::string Join(const std::string& dir, const char* name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

int IdOrMinusOne(const Tokenizer& tok, absl::string_view piece) {
  if (piece.empty()) return -1;
  return tok.PieceToId(piece).value_or(-1);
}

// OPT's vocabulary also holds GPT-2's <|endoftext|> (fairseq kept it), so <s>/</s> go first.
TokenizerFamily GuessBpeFamily(const Tokenizer& tok) {
  const int bos = IdOrMinusOne(tok, "<s>");
  const int eos = IdOrMinusOne(tok, "</s>");
  if (bos == 0 && eos == 2) return TokenizerFamily::kOpt;
  if (bos == 1 && eos == 2) return TokenizerFamily::kBloom;
  return TokenizerFamily::kGpt2;
}

// The family defaults: ids of the spec's pieces; add_bos only where a BOS exists.
SpecialTokens FamilySpecialTokens(const Tokenizer& tok) {
  const FamilyTokenSpec& spec = GetFamilySpec(tok.family());
  SpecialTokens s;
  s.bos_id = IdOrMinusOne(tok, spec.bos);
  s.eos_id = IdOrMinusOne(tok, spec.eos);
  s.pad_id = IdOrMinusOne(tok, spec.pad);
  s.unk_id = IdOrMinusOne(tok, spec.unk);
  s.add_bos = spec.add_bos && s.bos_id >= 0;
  s.add_eos = spec.add_eos && s.eos_id >= 0;
  return s;
}

// special_tokens_map.json and tokenizer_config.json: "bos_token": "<s>" or {"content": "<s>"},
// and (tokenizer_config.json) "add_bos_token": true.
absl::Status ApplyTokenFileOverrides(const std::string& path, Tokenizer& tok, SpecialTokens* s) {
  if (!FileExists(path)) return absl::OkStatus();
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json root, ReadJsonFile(path));
  if (!root.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not an object"));
  // "additional_special_tokens": ["<img>", ...]: special, reached by id only; new ones get the
  // next ids, as Hugging Face adds them.
  if (auto it = root.find("additional_special_tokens"); it != root.end() && it->is_array()) {
    for (const auto& token : *it) {
      std::string content;
      if (token.is_string()) {
        content = token.get<std::string>();
      } else if (token.is_object() && token.contains("content") && token["content"].is_string()) {
        content = token["content"].get<std::string>();
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": additional_special_tokens: expected strings or {\"content\": ...}"));
      }
      const absl::StatusOr<int> id = tok.AddSpecialToken(content);
      if (!id.ok())
        return absl::InvalidArgumentError(absl::StrCat(path, ": ", id.status().message()));
    }
  }
  struct Slot {
    const char* key;
    int* id;
  };
  for (const Slot& slot : {Slot{"bos_token", &s->bos_id}, Slot{"eos_token", &s->eos_id},
                           Slot{"pad_token", &s->pad_id}, Slot{"unk_token", &s->unk_id}}) {
    auto it = root.find(slot.key);
    if (it == root.end() || it->is_null()) continue;
    std::string content;
    if (it->is_string()) {
      content = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      content = (*it)["content"].get<std::string>();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", slot.key, ": expected a string or {\"content\": ...}"));
    }
    // Early LLaMA conversions wrote "" for every special token: keep the family default.
    if (content.empty()) continue;
    const std::optional<int> id = tok.PieceToId(content);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", slot.key, " '", content, "' is not in the vocabulary"));
    }
    *slot.id = *id;
  }
  if (auto it = root.find("add_bos_token"); it != root.end() && it->is_boolean()) {
    s->add_bos = it->get<bool>();
  }
  if (auto it = root.find("add_eos_token"); it != root.end() && it->is_boolean()) {
    s->add_eos = it->get<bool>();
  }
  if (s->add_bos && s->bos_id < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": add_bos_token without a bos_token"));
  }
  if (s->add_eos && s->eos_id < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": add_eos_token without an eos_token"));
  }
  return absl::OkStatus();
}

// added_tokens.json (how Hugging Face's slow tokenizers save added tokens): {"<img>": 50265}.
absl::Status ApplyAddedTokensJson(const std::string& path, Tokenizer& tok) {
  if (!FileExists(path)) return absl::OkStatus();
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json root, ReadJsonFile(path));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected an object of token -> id"));
  }
  std::vector<std::pair<int, std::string>> by_id;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!it.value().is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the id of '", it.key(), "' is not an integer"));
    }
    by_id.emplace_back(it.value().get<int>(), it.key());
  }
  std::sort(by_id.begin(), by_id.end());
  for (const auto& [id, content] : by_id) {
    const absl::Status status = tok.AddSpecialToken(content, id);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
  }
  return absl::OkStatus();
}

// config.json's model_type, when it names a tokenizer family.
absl::StatusOr<std::optional<TokenizerFamily>> FamilyFromConfig(const std::string& dir) {
  const std::string path = Join(dir, "config.json");
  if (!FileExists(path)) return std::optional<TokenizerFamily>();
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonFile(path));
  if (config.is_object() && config.contains("model_type") && config["model_type"].is_string()) {
    return TokenizerFamilyFromName(config["model_type"].get<std::string>());
  }
  return std::optional<TokenizerFamily>();
}

absl::StatusOr<std::unique_ptr<Tokenizer>> FinishBpe(ByteLevelBpeConfig config,
                                                     std::optional<TokenizerFamily> family,
                                                     const std::optional<std::string>& prepend) {
  // The family may have to be guessed from the vocabulary, so it is set after building.
  TokenizerFamily chosen = TokenizerFamily::kGpt2;
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<ByteLevelBpeTokenizer> tok,
                         ByteLevelBpeTokenizer::Create(std::move(config), chosen));
  if (family.has_value()) {
    chosen = *family;
  } else {
    chosen = GuessBpeFamily(*tok);
  }
  tok->set_family(chosen);
  SpecialTokens s = FamilySpecialTokens(*tok);
  if (prepend.has_value()) {
    if (std::optional<int> id = tok->PieceToId(*prepend); id.has_value()) {
      s.bos_id = *id;
      s.add_bos = true;
    }
  }
  LMEYE_RETURN_IF_ERROR(tok->set_special_tokens(s));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

// Special ids from the SentencePiece model itself; BOS/EOS added per the family.
absl::StatusOr<std::unique_ptr<Tokenizer>> FinishSentencePiece(
    std::unique_ptr<SentencePieceTokenizer> tok) {
  const FamilyTokenSpec& spec = GetFamilySpec(tok->family());
  SpecialTokens s = FamilySpecialTokens(*tok);
  // The model file is authoritative for its own ids.
  auto valid = [&](int id) { return id >= 0 && id < tok->vocab_size() ? id : -1; };
  s.bos_id = valid(tok->model_bos_id());
  s.eos_id = valid(tok->model_eos_id());
  s.unk_id = valid(tok->model_unk_id());
  s.pad_id = valid(tok->model_pad_id());
  s.add_bos = spec.add_bos && s.bos_id >= 0;
  s.add_eos = spec.add_eos && s.eos_id >= 0;
  LMEYE_RETURN_IF_ERROR(tok->set_special_tokens(s));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

// A Unigram tokenizer.json (hf_unigram_json.h): T5 unless told otherwise.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfUnigramJson(
    const nlohmann::json& root, const std::string& path, std::optional<TokenizerFamily> family) {
  LMEYE_ASSIGN_OR_RETURN(HfUnigramJson parsed, ParseHfUnigramJson(root, path));
  absl::StatusOr<SpmModel> model = SpmModel::FromProto(std::move(parsed.model));
  if (!model.ok()) {
    return absl::Status(model.status().code(), absl::StrCat(path, ": ", model.status().message()));
  }
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceTokenizer> spm,
                         SentencePieceTokenizer::FromModel(std::move(model).value(), path,
                                                           family.value_or(TokenizerFamily::kT5)));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, FinishSentencePiece(std::move(spm)));
  auto named = [&](const absl::Status& status) {
    return status.ok() ? status
                       : absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
  };
  for (const auto& [content, id] : parsed.special_in_vocab) {
    LMEYE_RETURN_IF_ERROR(named(tok->AddSpecialToken(content, id)));
  }
  for (const auto& [content, id] : parsed.added_beyond_vocab) {
    LMEYE_RETURN_IF_ERROR(named(tok->AddSpecialToken(content, id)));
  }
  // The post-processor says what a single sequence gets.
  SpecialTokens s = tok->special_tokens();
  s.add_bos = !parsed.prepend_token.empty();
  s.add_eos = !parsed.append_token.empty();
  if (s.add_bos) s.bos_id = tok->PieceToId(parsed.prepend_token).value_or(-1);
  if (s.add_eos) s.eos_id = tok->PieceToId(parsed.append_token).value_or(-1);
  if ((s.add_bos && s.bos_id < 0) || (s.add_eos && s.eos_id < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": post_processor: its special token is not in the vocabulary"));
  }
  LMEYE_RETURN_IF_ERROR(tok->set_special_tokens(s));
  return tok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadBpeTokenizer(const std::string& vocab_json,
                                                            const std::string& merges,
                                                            std::optional<TokenizerFamily> family) {
  LMEYE_ASSIGN_OR_RETURN(ByteLevelBpeConfig config, ReadBpeFiles(vocab_json, merges));
  return FinishBpe(std::move(config), family, std::nullopt);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(
    const std::string& path, std::optional<TokenizerFamily> family) {
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json root, ReadJsonFile(path));
  if (IsHfUnigramJson(root)) return LoadHfUnigramJson(root, path, family);
  LMEYE_ASSIGN_OR_RETURN(HfTokenizerJson parsed, ParseHfTokenizerJson(root, path));
  return FinishBpe(std::move(parsed.bpe), family, parsed.prepend_token);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path,
                                                                      TokenizerFamily family) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceTokenizer> tok,
                         SentencePieceTokenizer::Load(path, family));
  return FinishSentencePiece(std::move(tok));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& dir,
                                                         const TokenizerOptions& options) {
  std::optional<TokenizerFamily> family = options.family;
  if (!family.has_value()) {
    LMEYE_ASSIGN_OR_RETURN(family, FamilyFromConfig(dir));
  }
  std::unique_ptr<Tokenizer> tok;
  if (FileExists(Join(dir, "tokenizer.model"))) {
    LMEYE_ASSIGN_OR_RETURN(tok,
                           LoadSentencePieceTokenizer(Join(dir, "tokenizer.model"),
                                                      family.value_or(TokenizerFamily::kLlama)));
  } else if (FileExists(Join(dir, "spiece.model"))) {
    // T5's name for it. The family is T5 unless config.json or the caller says otherwise (a
    // BLIP-2 directory's config.json says "blip-2", no tokenizer family).
    const TokenizerFamily chosen = family.value_or(TokenizerFamily::kT5);
    if (chosen == TokenizerFamily::kT5) {
      LMEYE_ASSIGN_OR_RETURN(const int extra_ids,
                             ReadT5ExtraIds(Join(dir, "tokenizer_config.json")));
      LMEYE_ASSIGN_OR_RETURN(tok, LoadT5Tokenizer(Join(dir, "spiece.model"), extra_ids));
    } else {
      LMEYE_ASSIGN_OR_RETURN(tok, LoadSentencePieceTokenizer(Join(dir, "spiece.model"), chosen));
    }
  } else if (FileExists(Join(dir, "tokenizer.json"))) {
    LMEYE_ASSIGN_OR_RETURN(tok, LoadHfTokenizerJson(Join(dir, "tokenizer.json"), family));
  } else if (FileExists(Join(dir, "vocab.json")) && FileExists(Join(dir, "merges.txt"))) {
    LMEYE_ASSIGN_OR_RETURN(
        tok, LoadBpeTokenizer(Join(dir, "vocab.json"), Join(dir, "merges.txt"), family));
  } else if (FileExists(Join(dir, "encoder.json")) && FileExists(Join(dir, "vocab.bpe"))) {
    LMEYE_ASSIGN_OR_RETURN(
        tok, LoadBpeTokenizer(Join(dir, "encoder.json"), Join(dir, "vocab.bpe"), family));
  } else {
    return absl::NotFoundError(absl::StrCat(
        "no tokenizer in ", dir,
        ": expected tokenizer.model, spiece.model, tokenizer.json, vocab.json + merges.txt, or "
        "encoder.json + vocab.bpe"));
  }
  LMEYE_RETURN_IF_ERROR(ApplyAddedTokensJson(Join(dir, "added_tokens.json"), *tok));
  SpecialTokens s = tok->special_tokens();
  LMEYE_RETURN_IF_ERROR(ApplyTokenFileOverrides(Join(dir, "special_tokens_map.json"), *tok, &s));
  LMEYE_RETURN_IF_ERROR(ApplyTokenFileOverrides(Join(dir, "tokenizer_config.json"), *tok, &s));
  LMEYE_RETURN_IF_ERROR(tok->set_special_tokens(s));
  return tok;
}

}  // namespace lmeye
