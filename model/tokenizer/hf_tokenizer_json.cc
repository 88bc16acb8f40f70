#include "model/tokenizer/hf_tokenizer_json.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/common/status_macros.h"
#include "model/common/file_util.h"

namespace lmeye {
namespace {

using nlohmann::json;

// True when `key` is absent, null, false, or an empty string: a feature not in use.
bool Unset(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (it->is_boolean()) return !it->get<bool>();
  if (it->is_string()) return it->get<std::string>().empty();
  return false;
}

std::string TypeOf(const json& obj) {
  auto it = obj.find("type");
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string("?");
}

bool GetBool(const json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

class Parser {
 public:
  explicit Parser(std::string path) : path_(std::move(path)) {}

  absl::Status Error(const std::string& field, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", field, ": ", message));
  }

  absl::Status ParseModel(const json& model, ByteLevelBpeConfig* config) const {
    if (!model.is_object()) return Error("model", "missing");
    if (TypeOf(model) != "BPE" && model.contains("type")) {
      return Error("model.type",
                   absl::StrCat("'", TypeOf(model), "' is not supported (only byte-level BPE)"));
    }
    for (const char* key :
         {"dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"}) {
      if (!Unset(model, key)) return Error(absl::StrCat("model.", key), "not supported");
    }
    config->ignore_merges = GetBool(model, "ignore_merges", false);
    if (auto unk = model.find("unk_token"); unk != model.end() && unk->is_string()) {
      config->unk_token = unk->get<std::string>();
    }
    const auto vocab = model.find("vocab");
    if (vocab == model.end() || !vocab->is_object()) {
      return Error("model.vocab", "expected an object of token -> id");
    }
    config->vocab.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      if (!it.value().is_number_integer()) {
        return Error("model.vocab", absl::StrCat("the id of '", it.key(), "' is not an integer"));
      }
      config->vocab.emplace_back(it.key(), it.value().get<int>());
    }
    const auto merges = model.find("merges");
    if (merges == model.end() || !merges->is_array()) {
      return Error("model.merges", "expected an array");
    }
    config->merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const json& m = (*merges)[i];
      // Older files write "a b"; newer ones (tokenizers >= 0.20) write ["a", "b"].
      if (m.is_string()) {
        std::vector<std::string> parts = absl::StrSplit(m.get<std::string>(), ' ');
        if (parts.size() == 2 && !parts[0].empty() && !parts[1].empty()) {
          config->merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
          continue;
        }
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        config->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        continue;
      }
      return Error(absl::StrCat("model.merges[", i, "]"),
                   absl::StrCat("expected \"a b\" or [\"a\", \"b\"], got ", m.dump()));
    }
    return absl::OkStatus();
  }

  // One step of the pre-tokenizer; sets *byte_level when it is the ByteLevel step.
  absl::Status ParsePreTokenizerStep(const json& step, const std::string& field,
                                     std::vector<SplitRule>* rules, bool* add_prefix_space,
                                     bool* byte_level) const {
    const std::string type = TypeOf(step);
    if (type == "ByteLevel") {
      *byte_level = true;
      *add_prefix_space = GetBool(step, "add_prefix_space", false);
      // After a Split, Hugging Face prefixes every word with a space, not just the text.
      if (*add_prefix_space && !rules->empty()) {
        return Error(field, "add_prefix_space after a Split is not supported");
      }
      if (GetBool(step, "use_regex", true)) rules->push_back(SplitRule::kGpt2);
      return absl::OkStatus();
    }
    if (type == "Split") {
      const auto pattern = step.find("pattern");
      std::string regex;
      if (pattern != step.end() && pattern->is_object() && pattern->contains("Regex") &&
          (*pattern)["Regex"].is_string()) {
        regex = (*pattern)["Regex"].get<std::string>();
      } else {
        return Error(field + ".pattern", "only Regex patterns are supported");
      }
      const std::optional<SplitRule> rule = SplitRuleForRegex(regex);
      if (!rule.has_value()) {
        return Error(field + ".pattern",
                     absl::StrCat("regex '", regex, "' is not supported (known: GPT-2, BLOOM)"));
      }
      const auto behavior = step.find("behavior");
      if (behavior == step.end() || !behavior->is_string() || *behavior != "Isolated" ||
          GetBool(step, "invert", false)) {
        return Error(field, "only behavior Isolated without invert is supported");
      }
      rules->push_back(*rule);
      return absl::OkStatus();
    }
    return Error(field, absl::StrCat("pre-tokenizer type '", type, "' is not supported"));
  }

  absl::Status ParsePreTokenizer(const json& pre, ByteLevelBpeConfig* config) const {
    if (!pre.is_object()) {
      return Error("pre_tokenizer", "missing (a byte-level BPE needs a ByteLevel pre-tokenizer)");
    }
    std::vector<SplitRule> rules;
    bool add_prefix_space = false;
    bool byte_level = false;
    if (TypeOf(pre) == "Sequence") {
      const auto steps = pre.find("pretokenizers");
      if (steps == pre.end() || !steps->is_array()) {
        return Error("pre_tokenizer.pretokenizers", "expected an array");
      }
      for (size_t i = 0; i < steps->size(); ++i) {
        LMEYE_RETURN_IF_ERROR(
            ParsePreTokenizerStep((*steps)[i], absl::StrCat("pre_tokenizer.pretokenizers[", i, "]"),
                                  &rules, &add_prefix_space, &byte_level));
      }
    } else {
      LMEYE_RETURN_IF_ERROR(
          ParsePreTokenizerStep(pre, "pre_tokenizer", &rules, &add_prefix_space, &byte_level));
    }
    if (!byte_level) return Error("pre_tokenizer", "has no ByteLevel step");
    config->pretokenizer = PreTokenizer(std::move(rules), add_prefix_space);
    return absl::OkStatus();
  }

  absl::Status ParseAddedTokens(const json& added, ByteLevelBpeConfig* config) const {
    if (added.is_null()) return absl::OkStatus();
    if (!added.is_array()) return Error("added_tokens", "expected an array");
    for (size_t i = 0; i < added.size(); ++i) {
      const json& t = added[i];
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string()) {
        return Error(absl::StrCat("added_tokens[", i, "]"), "expected {id, content, ...}");
      }
      config->added_tokens.push_back(
          {t["id"].get<int>(), t["content"].get<std::string>(), GetBool(t, "special", false)});
    }
    return absl::OkStatus();
  }

  absl::Status ParsePostProcessor(const json& post, HfTokenizerJson* out) const {
    if (!post.is_object()) return absl::OkStatus();
    const std::string type = TypeOf(post);
    if (type == "TemplateProcessing") {
      const auto single = post.find("single");
      if (single != post.end() && single->is_array() && !single->empty()) {
        const json& first = (*single)[0];
        if (first.is_object() && first.contains("SpecialToken") &&
            first["SpecialToken"].is_object() && first["SpecialToken"].contains("id") &&
            first["SpecialToken"]["id"].is_string()) {
          out->prepend_token = first["SpecialToken"]["id"].get<std::string>();
        }
      }
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      const auto cls = post.find("cls");
      if (cls != post.end() && cls->is_array() && !cls->empty() && (*cls)[0].is_string()) {
        out->prepend_token = (*cls)[0].get<std::string>();
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string path_;
};

}  // namespace

absl::StatusOr<HfTokenizerJson> ReadHfTokenizerJson(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(json root, ReadJsonFile(path));
  return ParseHfTokenizerJson(root, path);
}

absl::StatusOr<HfTokenizerJson> ParseHfTokenizerJson(const json& root, const std::string& path) {
  Parser parser(path);
  if (!root.is_object()) return parser.Error("(root)", "expected a JSON object");
  HfTokenizerJson out;
  out.bpe.source = path;
  const json kNull;
  auto field = [&](const char* key) -> const json& {
    auto it = root.find(key);
    return it == root.end() ? kNull : *it;
  };
  const json& normalizer = field("normalizer");
  if (!normalizer.is_null()) {
    return parser.Error("normalizer",
                        absl::StrCat("type '", TypeOf(normalizer), "' is not supported"));
  }
  LMEYE_RETURN_IF_ERROR(parser.ParseModel(field("model"), &out.bpe));
  LMEYE_RETURN_IF_ERROR(parser.ParsePreTokenizer(field("pre_tokenizer"), &out.bpe));
  LMEYE_RETURN_IF_ERROR(parser.ParseAddedTokens(field("added_tokens"), &out.bpe));
  const json& decoder = field("decoder");
  if (!decoder.is_null() && TypeOf(decoder) != "ByteLevel") {
    return parser.Error("decoder", absl::StrCat("type '", TypeOf(decoder), "' is not supported"));
  }
  LMEYE_RETURN_IF_ERROR(parser.ParsePostProcessor(field("post_processor"), &out));
  return out;
}

}  // namespace lmeye
