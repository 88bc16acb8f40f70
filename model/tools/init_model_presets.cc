#include "model/tools/init_model_presets.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/llm/llm_arch.h"

namespace lmeye {
namespace {

// One row per preset, laid out as a table.
// clang-format off
std::vector<LlmPreset> MakeLlmPresets() {
  using F = LlmFamily;
  const InitDType f32 = InitDType::kF32, bf16 = InitDType::kBF16;
  // family, name, aliases,
  //   vocab, hidden, layers, heads, kv heads, ffn, max positions, norm eps, dtype, params, source
  return {
      {F::kOpt, "tiny", {},
       0, 64, 2, 4, 0, 256, 2048, 1e-5, f32, 0, ""},
      // The demo model's LLM (deploy/train-demo.sh): trained by `lmeye train --stage lm` on its
      // own small vocabulary; short prompts, so a short position table.
      {F::kOpt, "demo", {},
       0, 192, 4, 4, 0, 768, 256, 1e-5, f32, 0, ""},
      {F::kOpt, "125m", {"opt-125m"},
       50272, 768, 12, 12, 0, 3072, 2048, 1e-5, f32, 125'239'296, "facebook/opt-125m"},
      {F::kOpt, "1.3b", {"opt-1.3b", "iml-1.3b", "opt-iml-1.3b", "opt-iml-max-1.3b"},
       50272, 2048, 24, 32, 0, 8192, 2048, 1e-5, bf16, 1'315'758'080, "facebook/opt-iml-1.3b"},
      {F::kOpt, "6.7b", {"opt-6.7b"},
       50272, 4096, 32, 32, 0, 16384, 2048, 1e-5, bf16, 6'658'473'984, "facebook/opt-6.7b"},
      // BLOOM: ffn 4 * hidden, ALiBi (no position table).
      {F::kBloom, "tiny", {},
       0, 64, 2, 4, 0, 0, 0, 1e-5, f32, 0, ""},
      {F::kBloom, "560m", {"bloom-560m", "bloomz-560m"},
       250880, 1024, 24, 16, 0, 0, 0, 1e-5, f32, 559'214'592, "bigscience/bloomz-560m"},
      {F::kBloom, "7b1", {"7b", "bloom-7b1", "bloomz-7b1"},
       250880, 4096, 30, 32, 0, 0, 0, 1e-5, bf16, 7'069'016'064, "bigscience/bloomz-7b1"},
      // LLaMA: untied lm_head; tiny uses grouped-query attention so that path is exercised.
      {F::kLlama, "tiny", {},
       0, 64, 2, 4, 2, 128, 2048, 1e-6, f32, 0, ""},
      // A LLaMA of OPT-125m's size (no published checkpoint), for benchmarks beside small peers.
      {F::kLlama, "125m", {"llama-125m"},
       32000, 768, 12, 12, 0, 2048, 2048, 1e-6, f32, 0, ""},
      // TinyLlama's shape: grouped-query attention (4 KV heads of 32).
      {F::kLlama, "1.1b", {"tinyllama-1.1b"},
       32000, 2048, 22, 32, 4, 5632, 2048, 1e-5, bf16, 1'100'048'384,
       "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T"},
      {F::kLlama, "7b", {"llama-7b", "vicuna-7b"},
       32000, 4096, 32, 32, 0, 11008, 2048, 1e-6, bf16, 6'738'415'616, "huggyllama/llama-7b"},
      {F::kLlama, "13b", {"llama-13b", "vicuna-13b"},
       32000, 5120, 40, 40, 0, 13824, 2048, 1e-6, bf16, 13'015'864'320, "huggyllama/llama-13b"},
  };
}

std::vector<ClipPreset> MakeClipPresets() {
  // name, aliases,
  //   vision hidden, ffn, layers, heads, patch, image; text hidden, ffn, layers, heads, vocab,
  //   positions; projection; params (logit_scale included), source
  return {
      {"tiny", {},
       64, 256, 2, 4, 32, 224, 64, 256, 2, 4, 49408, 77, 64, 0, ""},
      // The demo model's CLIP (deploy/train-demo.sh): 64x64 images in 8x8 patches; the text
      // tower on the LLM's own vocabulary (text_vocab 0), trained by `lmeye train --stage clip`.
      // At 48x48 (--image-size 48) a step took 0.7x as long, but 2000 steps bound attributes
      // worse than 1500 at 64x64 (probes of h_I on held-out attribute questions: MLP 83.4 vs
      // 85.3%, linear 76.6 vs 80.0%).
      {"demo", {},
       192, 768, 4, 4, 8, 64, 128, 512, 2, 4, 0, 64, 128, 0, ""},
      {"vit-b-32", {"clip-vit-base-patch32", "b32"},
       768, 3072, 12, 12, 32, 224, 512, 2048, 12, 8, 49408, 77, 512,
       151'277'313, "openai/clip-vit-base-patch32"},
      {"vit-b-16", {"clip-vit-base-patch16", "b16"},
       768, 3072, 12, 12, 16, 224, 512, 2048, 12, 8, 49408, 77, 512,
       149'620'737, "openai/clip-vit-base-patch16"},
      {"vit-l-14", {"clip-vit-large-patch14", "l14"},
       1024, 4096, 24, 16, 14, 224, 768, 3072, 12, 12, 49408, 77, 768,
       427'616'513, "openai/clip-vit-large-patch14"},
  };
}

std::vector<LingcloudV01Preset> MakeLingcloudV01Presets() {
  const InitDType f32 = InitDType::kF32, bf16 = InitDType::kBF16;
  // name, aliases,
  //   vision hidden, ffn, layers, heads, image, patch;
  //   Q-Former hidden, ffn, layers, heads, cross-attention frequency, queries;
  //   T5 vocab, d_model, d_kv, heads, d_ff, encoder layers, decoder layers;
  //   CLIP preset, <img-d> rows, dtype, source
  return {
      // The fixture's widths (tests/data/models/lingcloud-blip2-tiny), with a full CLIP text
      // table so CLIP's real <|startoftext|>/<|endoftext|> ids exist.
      {"tiny", {},
       48, 96, 2, 4, 32, 8,
       32, 64, 2, 4, 2, 8,
       384, 48, 12, 4, 96, 2, 2,
       "tiny", 5, f32, ""},
      // BLIP-2 Flan-T5-XL (EVA ViT-g/14, BERT-base Q-Former) and CLIP ViT-L/14's text tower.
      {"flan-t5-xl", {"blip2-flan-t5-xl", "v0.1"},
       1408, 6144, 39, 16, 224, 14,
       768, 3072, 12, 12, 2, 32,
       32128, 2048, 64, 32, 5120, 24, 24,
       "vit-l-14", 5, bf16, "Salesforce/blip2-flan-t5-xl"},
  };
}
// clang-format on

template <typename T>
std::string Names(const std::vector<T>& presets) {
  std::vector<std::string> names;
  for (const T& p : presets) {
    std::string n = p.name;
    if (!p.aliases.empty()) n += " (" + absl::StrJoin(p.aliases, ", ") + ")";
    names.push_back(n);
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace

ClipPreset ResolveClipTextVocab(ClipPreset preset, int64_t tokenizer_vocab) {
  if (preset.text_vocab == 0) {
    preset.text_vocab = tokenizer_vocab + 1;
    preset.text_eos_token_id = 2;  // legacy: pooled at argmax, the EOS word vocab_size - 1
  }
  return preset;
}

const std::vector<LlmPreset>& LlmPresets() {
  static const auto* presets = new std::vector<LlmPreset>(MakeLlmPresets());
  return *presets;
}

const std::vector<ClipPreset>& ClipPresets() {
  static const auto* presets = new std::vector<ClipPreset>(MakeClipPresets());
  return *presets;
}

const std::vector<LingcloudV01Preset>& LingcloudV01Presets() {
  static const auto* presets = new std::vector<LingcloudV01Preset>(MakeLingcloudV01Presets());
  return *presets;
}

absl::StatusOr<LingcloudV01Preset> FindLingcloudV01Preset(const std::string& name) {
  for (const LingcloudV01Preset& p : LingcloudV01Presets()) {
    if (p.name == name || std::find(p.aliases.begin(), p.aliases.end(), name) != p.aliases.end()) {
      return p;
    }
  }
  return absl::NotFoundError(absl::StrCat("unknown v0.1 preset \"", name,
                                          "\" (valid: ", Names(LingcloudV01Presets()), ")"));
}

absl::StatusOr<LlmFamily> ParseLlmFamily(const std::string& name) {
  for (const LlmArch& a : AllLlmArchs()) {
    if (name == LlmFamilyName(a.family)) return a.family;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown family \"", name, "\" (valid: opt, bloom, llama)"));
}

absl::StatusOr<LlmPreset> FindLlmPreset(LlmFamily family, const std::string& name) {
  std::vector<LlmPreset> of_family;
  for (const LlmPreset& p : LlmPresets()) {
    if (p.family != family) continue;
    if (p.name == name || std::find(p.aliases.begin(), p.aliases.end(), name) != p.aliases.end()) {
      return p;
    }
    of_family.push_back(p);
  }
  return absl::NotFoundError(absl::StrCat("unknown ", LlmFamilyName(family), " preset \"", name,
                                          "\" (valid: ", Names(of_family), ")"));
}

absl::StatusOr<ClipPreset> FindClipPreset(const std::string& name) {
  for (const ClipPreset& p : ClipPresets()) {
    if (p.name == name || std::find(p.aliases.begin(), p.aliases.end(), name) != p.aliases.end()) {
      return p;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("unknown CLIP preset \"", name, "\" (valid: ", Names(ClipPresets()), ")"));
}

}  // namespace lmeye
