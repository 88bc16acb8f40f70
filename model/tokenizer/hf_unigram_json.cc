#include "model/tokenizer/hf_unigram_json.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

using nlohmann::json;

constexpr absl::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581 "▁"

std::string TypeOf(const json& obj) {
  auto it = obj.find("type");
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string("?");
}

const json& Field(const json& obj, const char* key) {
  static const json* const kNull = new json();
  if (!obj.is_object()) return *kNull;
  auto it = obj.find(key);
  return it == obj.end() ? *kNull : *it;
}

class Parser {
 public:
  explicit Parser(const std::string& path) : path_(path) {}

  absl::Status Error(absl::string_view field, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", field, ": ", message));
  }

  absl::Status ParseModel(const json& model, HfUnigramJson* out) const {
    if (TypeOf(model) != "Unigram") return Error("model.type", "expected Unigram");
    if (const json& b = Field(model, "byte_fallback"); b.is_boolean() && b.get<bool>()) {
      return Error("model.byte_fallback", "not supported");
    }
    const json& vocab = Field(model, "vocab");
    if (!vocab.is_array() || vocab.empty()) {
      return Error("model.vocab", "expected a non-empty array of [piece, score]");
    }
    for (const json& entry : vocab) {
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
          !entry[1].is_number()) {
        return Error("model.vocab", "expected [piece, score] entries");
      }
      const double score = entry[1].get<double>();
      if (!std::isfinite(score)) return Error("model.vocab", "a score is not finite");
      out->model.pieces.push_back(
          {entry[0].get<std::string>(), static_cast<float>(score), SpmPieceType::kNormal});
    }
    const json& unk = Field(model, "unk_id");
    if (!unk.is_number_integer() || unk.get<int64_t>() < 0 ||
        unk.get<int64_t>() >= static_cast<int64_t>(out->model.pieces.size())) {
      return Error("model.unk_id", "expected the id of a vocabulary entry");
    }
    SpmPieceProto& unk_piece = out->model.pieces[unk.get<int64_t>()];
    unk_piece.type = SpmPieceType::kUnknown;
    out->model.trainer_spec.unk_piece = unk_piece.piece;
    out->model.trainer_spec.model_type = static_cast<int>(SpmModelType::kUnigram);
    return absl::OkStatus();
  }

  absl::Status ParseNormalizer(const json& normalizer, SpmNormalizerSpecProto* spec) const {
    spec->name = "identity";
    if (normalizer.is_null()) return absl::OkStatus();
    std::vector<const json*> steps;
    if (TypeOf(normalizer) == "Sequence" && Field(normalizer, "normalizers").is_array()) {
      for (const json& step : Field(normalizer, "normalizers")) steps.push_back(&step);
    } else {
      steps.push_back(&normalizer);
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      const json& step = *steps[i];
      const std::string type = TypeOf(step);
      if (type == "Precompiled" && i == 0) {
        const json& blob = Field(step, "precompiled_charsmap");
        if (blob.is_null()) continue;
        if (!blob.is_string() ||
            !absl::Base64Unescape(blob.get<std::string>(), &spec->precompiled_charsmap)) {
          return Error("normalizer.precompiled_charsmap", "expected base64");
        }
        spec->name = "precompiled";
      } else if (type == "Replace" && Field(Field(step, "pattern"), "Regex") == " {2,}" &&
                 Field(step, "content") == " ") {
        // Collapses runs of spaces: what remove_extra_whitespaces does anyway.
      } else {
        return Error("normalizer", absl::StrCat("step '", type, "' is not supported"));
      }
    }
    return absl::OkStatus();
  }

  // WhitespaceSplit then Metaspace: SentencePiece's dummy prefix and white space handling.
  absl::Status ParsePreTokenizer(const json& pre, SpmNormalizerSpecProto* spec) const {
    const json& steps = Field(pre, "pretokenizers");
    if (TypeOf(pre) != "Sequence" || !steps.is_array() || steps.size() != 2 ||
        TypeOf(steps[0]) != "WhitespaceSplit" || TypeOf(steps[1]) != "Metaspace") {
      return Error("pre_tokenizer", "expected Sequence [WhitespaceSplit, Metaspace]");
    }
    const json& metaspace = steps[1];
    if (Field(metaspace, "replacement") != std::string(kSpaceSymbol)) {
      return Error("pre_tokenizer.replacement", "expected U+2581");
    }
    const json& add_prefix = Field(metaspace, "add_prefix_space");
    const json& scheme = Field(metaspace, "prepend_scheme");
    const bool prefix = (add_prefix.is_boolean() && add_prefix.get<bool>()) || scheme == "always";
    if (!prefix) return Error("pre_tokenizer", "Metaspace without a prefix space");
    spec->add_dummy_prefix = true;
    spec->remove_extra_whitespaces = true;
    spec->escape_whitespaces = true;
    return absl::OkStatus();
  }

  absl::Status ParseAddedTokens(const json& added, HfUnigramJson* out) const {
    if (added.is_null()) return absl::OkStatus();
    if (!added.is_array()) return Error("added_tokens", "expected an array");
    const int n_vocab = static_cast<int>(out->model.pieces.size());
    for (const json& token : added) {
      const json& id = Field(token, "id");
      const json& content = Field(token, "content");
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 30) ||
          !content.is_string() || content.get<std::string>().empty()) {
        return Error("added_tokens", "expected {\"id\": n, \"content\": \"...\"}");
      }
      const int i = static_cast<int>(id.get<int64_t>());
      const std::string text = content.get<std::string>();
      if (i >= n_vocab) {
        out->added_beyond_vocab.emplace_back(text, i);
        continue;
      }
      SpmPieceProto& piece = out->model.pieces[i];
      if (piece.piece != text) {
        return Error("added_tokens", absl::StrCat("id ", i, " is '", piece.piece,
                                                  "' in the vocabulary, not '", text, "'"));
      }
      const json& special = Field(token, "special");
      // <unk> stays the UNKNOWN piece, decoded as " ⁇ " like spiece.model's (not skipped).
      if (special.is_boolean() && special.get<bool>() && piece.type != SpmPieceType::kUnknown) {
        piece.type = SpmPieceType::kControl;
        out->special_in_vocab.emplace_back(text, i);
      }
    }
    std::sort(out->added_beyond_vocab.begin(), out->added_beyond_vocab.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    return absl::OkStatus();
  }

  // TemplateProcessing's single sequence: [SpecialToken]? Sequence A [SpecialToken]?.
  absl::Status ParsePostProcessor(const json& post, HfUnigramJson* out) const {
    if (post.is_null()) return absl::OkStatus();
    const json& single = Field(post, "single");
    if (TypeOf(post) != "TemplateProcessing" || !single.is_array()) {
      return Error("post_processor", absl::StrCat("type '", TypeOf(post), "' is not supported"));
    }
    bool seen_a = false;
    for (const json& item : single) {
      if (item.contains("Sequence")) {
        if (seen_a) return Error("post_processor.single", "more than one sequence");
        seen_a = true;
        continue;
      }
      const json& token = Field(Field(item, "SpecialToken"), "id");
      if (!token.is_string()) return Error("post_processor.single", "unexpected item");
      std::string& slot = seen_a ? out->append_token : out->prepend_token;
      if (!slot.empty()) return Error("post_processor.single", "more than one token on a side");
      slot = token.get<std::string>();
    }
    if (!seen_a) return Error("post_processor.single", "no sequence");
    return absl::OkStatus();
  }

 private:
  const std::string& path_;
};

}  // namespace

bool IsHfUnigramJson(const nlohmann::json& root) {
  return TypeOf(Field(root, "model")) == "Unigram";
}

absl::StatusOr<HfUnigramJson> ParseHfUnigramJson(const nlohmann::json& root,
                                                 const std::string& path) {
  Parser parser(path);
  if (!root.is_object()) return parser.Error("(root)", "expected a JSON object");
  HfUnigramJson out;
  LMEYE_RETURN_IF_ERROR(parser.ParseModel(Field(root, "model"), &out));
  LMEYE_RETURN_IF_ERROR(
      parser.ParseNormalizer(Field(root, "normalizer"), &out.model.normalizer_spec));
  LMEYE_RETURN_IF_ERROR(
      parser.ParsePreTokenizer(Field(root, "pre_tokenizer"), &out.model.normalizer_spec));
  LMEYE_RETURN_IF_ERROR(parser.ParseAddedTokens(Field(root, "added_tokens"), &out));
  const json& decoder = Field(root, "decoder");
  if (!decoder.is_null() && TypeOf(decoder) != "Metaspace") {
    return parser.Error("decoder", absl::StrCat("type '", TypeOf(decoder), "' is not supported"));
  }
  LMEYE_RETURN_IF_ERROR(parser.ParsePostProcessor(Field(root, "post_processor"), &out));
  return out;
}

}  // namespace lmeye
