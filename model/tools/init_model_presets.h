// The shapes `lmeye init-model` writes (docs/STYLE.md 2, architectures are data): one table row per
// decoder and per CLIPModel, with the published checkpoints' config.json values (and the
// project's own tiny and demo shapes), and the lookups by name or alias.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/llm/llm_config.h"

namespace lmeye {

// The dtype of written weights.
enum class InitDType { kF32, kBF16, kF16 };

// One decoder shape. Fields left 0 take the family's rule (n_kv_heads = n_heads, ffn_dim =
// 4 * hidden for BLOOM). Widths are the published checkpoints' config.json values.
struct LlmPreset {
  LlmFamily family;
  std::string name;                  // "125m"
  std::vector<std::string> aliases;  // "opt-125m", "opt-iml-1.3b", ...
  // 0: from the tokenizer, rounded up to a multiple of 64. Otherwise the real checkpoint's size,
  // grown (rounded up to 64) only if the tokenizer has more ids.
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t ffn_dim = 0;
  int64_t max_positions = 2048;  // OPT's learned table; LLaMA's max_position_embeddings
  double norm_eps = 1e-5;        // BLOOM layer_norm_epsilon, LLaMA rms_norm_eps
  InitDType default_dtype = InitDType::kF32;
  // Parameters of the published checkpoint (embeddings included, tied head counted once); 0
  // where there is none (tiny). Tests check the table against it.
  int64_t real_params = 0;
  const char* real_name = "";  // "facebook/opt-125m"
};

// One CLIPModel shape (both towers, both projections).
struct ClipPreset {
  std::string name;  // "vit-l-14"
  std::vector<std::string> aliases;
  int64_t vision_hidden = 0, vision_ffn = 0, vision_layers = 0, vision_heads = 0;
  int64_t patch_size = 0, image_size = 224;
  int64_t text_hidden = 0, text_ffn = 0, text_layers = 0, text_heads = 0;
  // 0: the model's own small vocabulary (the demo): the tokenizer's ids plus one, the highest,
  // as the EOS word the text tower pools at (eos_token_id then becomes the legacy 2, whose rule,
  // argmax of the ids, finds it: openai's CLIP does the same with its own highest id).
  int64_t text_vocab = 49408, text_positions = 77;
  int64_t projection_dim = 0;
  int64_t real_params = 0;  // incl. logit_scale
  const char* real_name = "";
  int64_t text_eos_token_id = 49407;
};

// `preset` with a text_vocab of 0 resolved for a tokenizer of `tokenizer_vocab` ids (see
// ClipPreset::text_vocab); other presets unchanged.
ClipPreset ResolveClipTextVocab(ClipPreset preset, int64_t tokenizer_vocab);

// One LMEye v0.1 shape (docs/LINGCLOUD.md "LMEye v0.1"): BLIP-2's EVA ViT and Q-Former, T5 (gated
// gelu_new, untied lm_head, as Flan-T5), the CLIP model whose text tower runs the interaction (a
// ClipPreset by name) and the IPN's <img-d> rows.
struct LingcloudV01Preset {
  std::string name;  // "flan-t5-xl"
  std::vector<std::string> aliases;
  int64_t vision_hidden = 0, vision_ffn = 0, vision_layers = 0, vision_heads = 0;
  int64_t image_size = 224, patch_size = 14;
  int64_t qformer_hidden = 0, qformer_ffn = 0, qformer_layers = 0, qformer_heads = 0;
  int64_t cross_attention_frequency = 2, n_query_tokens = 32;
  // T5: the real table size, grown (rounded up to 64) only if the tokenizer and the two added
  // tokens need more ids.
  int64_t t5_vocab = 32128;
  int64_t d_model = 0, d_kv = 0, t5_heads = 0, d_ff = 0, encoder_layers = 0, decoder_layers = 0;
  std::string clip_preset;  // ClipPresets() name; its text width must equal its projection
  int imgd_len = 5;
  InitDType default_dtype = InitDType::kF32;
  const char* real_name = "";  // "Salesforce/blip2-flan-t5-xl"
};

const std::vector<LlmPreset>& LlmPresets();
const std::vector<ClipPreset>& ClipPresets();
// By name or alias. NotFound lists the family's valid names.
absl::StatusOr<LlmPreset> FindLlmPreset(LlmFamily family, const std::string& name);
absl::StatusOr<ClipPreset> FindClipPreset(const std::string& name);
const std::vector<LingcloudV01Preset>& LingcloudV01Presets();
absl::StatusOr<LingcloudV01Preset> FindLingcloudV01Preset(const std::string& name);
// "opt" | "bloom" | "llama"; InvalidArgument listing them otherwise.
absl::StatusOr<LlmFamily> ParseLlmFamily(const std::string& name);

}  // namespace lmeye
