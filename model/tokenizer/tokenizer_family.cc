#include "model/tokenizer/tokenizer_family.h"

namespace lmeye {
namespace {

// OPT prepends `</s>`, not `<s>`: its tokenizer_config.json sets bos_token to `</s>`, and the
// models were trained that way. BLOOM's tokenizer adds nothing.
// T5 has no BOS at all: its encoder input is the text and `</s>`.
constexpr FamilyTokenSpec kFamilies[] = {
    // family, model_type, bos, eos, pad, unk, add_bos, add_eos, strip_around_added_tokens
    {TokenizerFamily::kGpt2, "gpt2", "<|endoftext|>", "<|endoftext|>", "", "<|endoftext|>", false,
     false, false},
    {TokenizerFamily::kOpt, "opt", "</s>", "</s>", "<pad>", "<unk>", true, false, false},
    {TokenizerFamily::kBloom, "bloom", "<s>", "</s>", "<pad>", "<unk>", false, false, false},
    {TokenizerFamily::kLlama, "llama", "<s>", "</s>", "", "<unk>", true, false, true},
    {TokenizerFamily::kT5, "t5", "", "</s>", "<pad>", "<unk>", false, true, true},
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
