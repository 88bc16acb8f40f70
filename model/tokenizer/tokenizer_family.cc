#include "model/tokenizer/tokenizer_family.h"

namespace lmeye {
namespace {

// OPT prepends `</s>`, not `<s>`: its tokenizer_config.json sets bos_token to `</s>`, and the
// models were trained that way. BLOOM's tokenizer adds nothing.
constexpr FamilyTokenSpec kFamilies[] = {
    {TokenizerFamily::kGpt2, "gpt2", "<|endoftext|>", "<|endoftext|>", "", "<|endoftext|>", false},
    {TokenizerFamily::kOpt, "opt", "</s>", "</s>", "<pad>", "<unk>", true},
    {TokenizerFamily::kBloom, "bloom", "<s>", "</s>", "<pad>", "<unk>", false},
    {TokenizerFamily::kLlama, "llama", "<s>", "</s>", "", "<unk>", true},
};

}  // namespace

const FamilyTokenSpec& GetFamilySpec(TokenizerFamily family) {
  for (const FamilyTokenSpec& spec : kFamilies) {
    if (spec.family == family) return spec;
  }
  return kFamilies[0];  // unreachable: every enumerator has a row (tested)
}

std::optional<TokenizerFamily> TokenizerFamilyFromName(absl::string_view model_type) {
  for (const FamilyTokenSpec& spec : kFamilies) {
    if (spec.name == model_type) return spec.family;
  }
  return std::nullopt;
}

absl::string_view TokenizerFamilyName(TokenizerFamily family) { return GetFamilySpec(family).name; }

}  // namespace lmeye
