#include "model/tools/init_model_tokenizer.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tokenizer/tokenizer_family.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

TokenizerFamily TokenizerFamilyOf(LlmFamily family) {
  switch (family) {
    case LlmFamily::kOpt:
      return TokenizerFamily::kOpt;
    case LlmFamily::kBloom:
      return TokenizerFamily::kBloom;
    case LlmFamily::kLlama:
      return TokenizerFamily::kLlama;
  }
  return TokenizerFamily::kGpt2;
}

// Files LoadTokenizer reads, and the name each gets in llm/: OpenAI's encoder.json / vocab.bpe
// become Hugging Face's vocab.json / merges.txt (same formats), so transformers loads it too.
const std::vector<std::pair<std::string, std::string>>& TokenizerFileNames() {
  static const auto* names = new std::vector<std::pair<std::string, std::string>>{
      {"tokenizer.model", "tokenizer.model"},
      {"tokenizer.json", "tokenizer.json"},
      {"vocab.json", "vocab.json"},
      {"merges.txt", "merges.txt"},
      {"encoder.json", "vocab.json"},
      {"vocab.bpe", "merges.txt"},
      {"added_tokens.json", "added_tokens.json"},
      {"special_tokens_map.json", "special_tokens_map.json"},
      {"tokenizer_config.json", "tokenizer_config.json"},
  };
  return *names;
}

absl::StatusOr<json> ReadJsonOrEmpty(const std::string& path) {
  if (!FileExists(path)) return json::object();
  LMEYE_ASSIGN_OR_RETURN(json j, ReadJsonFile(path));
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not an object"));
  return j;
}

}  // namespace

// Loads the source tokenizer under the target family's conventions and decides the ids the
// model records. Missing tokens are filled the way real checkpoints do: a tokenizer without
// BOS/EOS (GPT-2's files under OPT or BLOOM) uses <|endoftext|> for both, as GPT-2 does; a
// missing pad is the unk token (LLaMA's convention: pad 0) or a new "<pad>" id after the
// vocabulary. For OPT this keeps GPT-2's ids throughout (no fairseq remapping): the random
// weights have no reason to prefer OPT's order, and text in / text out only needs consistency.
absl::StatusOr<TokenizerPlan> PlanTokenizer(const std::string& src, LlmFamily family) {
  TokenizerOptions options;
  options.family = TokenizerFamilyOf(family);
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(src, options));
  TokenizerPlan plan;
  LMEYE_ASSIGN_OR_RETURN(plan.added_tokens, ReadJsonOrEmpty(src + "/added_tokens.json"));
  LMEYE_ASSIGN_OR_RETURN(plan.tokenizer_config, ReadJsonOrEmpty(src + "/tokenizer_config.json"));
  int bos = tok->bos_id(), eos = tok->eos_id(), pad = tok->pad_id();
  const int unk = tok->special_tokens().unk_id;
  const std::optional<int> endoftext = tok->PieceToId("<|endoftext|>");
  if (eos < 0) eos = bos >= 0 ? bos : endoftext.value_or(-1);
  if (bos < 0) bos = eos;
  auto add = [&](const char* content) -> absl::StatusOr<int> {
    LMEYE_ASSIGN_OR_RETURN(int id, tok->AddSpecialToken(content));
    plan.added_tokens[content] = id;
    plan.notes.push_back(absl::StrCat("tokenizer: added ", content, " = ", id));
    return id;
  };
  if (eos < 0) {
    LMEYE_ASSIGN_OR_RETURN(eos, add("</s>"));
    bos = eos;
  }
  if (pad < 0) {
    if (unk >= 0) {
      pad = unk;
    } else {
      LMEYE_ASSIGN_OR_RETURN(pad, add("<pad>"));
    }
  }
  plan.ids = {bos, eos, pad};
  plan.vocab = tok->vocab_size();
  json& tc = plan.tokenizer_config;
  tc["bos_token"] = tok->IdToPiece(bos);
  tc["eos_token"] = tok->IdToPiece(eos);
  tc["pad_token"] = tok->IdToPiece(pad);
  tc["add_bos_token"] = GetFamilySpec(TokenizerFamilyOf(family)).add_bos;
  if (!tc.contains("model_max_length")) tc["model_max_length"] = 2048;
  if (!tc.contains("tokenizer_class")) {
    if (FileExists(src + "/tokenizer.model")) {
      tc["tokenizer_class"] = "LlamaTokenizer";
    } else if (FileExists(src + "/tokenizer.json")) {
      tc["tokenizer_class"] =
          family == LlmFamily::kBloom ? "BloomTokenizerFast" : "PreTrainedTokenizerFast";
    } else {
      tc["tokenizer_class"] = "GPT2Tokenizer";
    }
  }
  return plan;
}

absl::Status CopyTokenizerFiles(const std::string& src, const std::string& dst) {
  for (const auto& [from, to] : TokenizerFileNames()) {
    if (to == "added_tokens.json" || to == "tokenizer_config.json") continue;  // written below
    const std::string in = src + "/" + from, out = dst + "/" + to;
    if (!FileExists(in) || FileExists(out)) continue;  // vocab.json wins over encoder.json
    std::error_code ec;
    fs::copy_file(in, out, ec);
    if (ec) return absl::InternalError(absl::StrCat("copying ", in, ": ", ec.message()));
  }
  // Licence files travel with the vocabulary they cover.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(src, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() &&
        (name.rfind("LICENSE", 0) == 0 || name.rfind("NOTICE", 0) == 0)) {
      fs::copy_file(entry.path(), dst + "/" + name, fs::copy_options::skip_existing, ec);
    }
  }
  return absl::OkStatus();
}

}  // namespace lmeye
