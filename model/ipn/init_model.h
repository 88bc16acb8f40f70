// `lmeye init-model`: writes a complete LMEye model directory (the fixtures' layout, see
// lmeye_model.h) with random weights of a named shape and a real tokenizer, for tests and
// benchmarks that need text in and text out without downloading checkpoints.
//
// Architectures are data (STYLE.md 2): a shape is a row of the preset tables below; tensor names
// come from the modules themselves (the LLM's CausalLm built on the meta device, the CLIP towers'
// modules), so LmeyeModel::Load accepts the output by construction.
//
// Memory: weights are created and written one tensor at a time (in row chunks for the large
// embedding tables), so a 7B preset needs a few hundred MB of RAM, not the model's size. The
// directory is assembled in a staging folder next to `out_dir` and renamed into place at the end:
// a crash leaves no half-written model under `out_dir`.
//
// Random weights, reproducible from the seed (each tensor has its own generator seeded from
// (seed, name), so values do not depend on write order or sharding): embedding tables
// normal(0, 0.02) as transformers, linear/convolution weights normal(0, 1/sqrt(fan_in)) so every
// layer's output is unit-scale and greedy text from a random model is varied (see SpecsOf in the
// .cc), zero biases, unit norm weights.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/llm/llm_config.h"
#include "model/vision/clip_config.h"

namespace lmeye {

enum class InitDType { kF32, kBF16, kF16 };

// "f32" | "bf16" | "f16" (also "float32", "bfloat16", "float16").
absl::StatusOr<InitDType> ParseInitDType(const std::string& name);
const char* InitDTypeName(InitDType dtype);  // "f32", ...

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

const std::vector<LlmPreset>& LlmPresets();
const std::vector<ClipPreset>& ClipPresets();
// By name or alias. NotFound lists the family's valid names.
absl::StatusOr<LlmPreset> FindLlmPreset(LlmFamily family, const std::string& name);
absl::StatusOr<ClipPreset> FindClipPreset(const std::string& name);
// "opt" | "bloom" | "llama"; InvalidArgument listing them otherwise.
absl::StatusOr<LlmFamily> ParseLlmFamily(const std::string& name);

// Special-token ids the LLM config.json records (-1: none).
struct LlmSpecialIds {
  int64_t bos = -1, eos = -1, pad = -1;
};

// The Hugging Face config.json of `preset` with `vocab_size` (transformers v4.35 key names; the
// LLM config parser reads it back to the same shape).
nlohmann::json LlmConfigJson(const LlmPreset& preset, int64_t vocab_size, const LlmSpecialIds& ids,
                             InitDType dtype);
// CLIPModel config.json (nested text/vision configs, quick_gelu) and the CLIPImageProcessor's
// preprocessor_config.json (OpenAI mean/std, bicubic resize + centre crop to image_size).
nlohmann::json ClipConfigJson(const ClipPreset& preset, InitDType dtype);
nlohmann::json ClipPreprocessorJson(const ClipPreset& preset);

// Parameter counts from the tables, without allocating weights.
absl::StatusOr<int64_t> LlmPresetParameterCount(const LlmPreset& preset, int64_t vocab_size);
// Builds the CLIP modules on the CPU (float32, ~1.7 GB for vit-l-14) to count them.
absl::StatusOr<int64_t> ClipPresetParameterCount(const ClipPreset& preset);

struct InitModelOptions {
  LlmFamily family = LlmFamily::kOpt;
  std::string llm_preset = "tiny";
  std::string clip_preset = "tiny";
  std::string tokenizer_dir;  // anything LoadTokenizer reads
  std::string out_dir;
  std::optional<InitDType> dtype;  // default: the LLM preset's default_dtype
  uint64_t seed = 0;
  bool force = false;  // replace an existing LMEye model directory
  // Shard the LLM weights like Hugging Face above this size (model-0000k-of-0000n.safetensors +
  // model.safetensors.index.json).
  int64_t max_shard_bytes = 5'000'000'000;
};

struct InitModelReport {
  std::string out_dir;
  InitDType dtype = InitDType::kF32;
  int64_t vocab_size = 0;  // the LLM's
  int64_t tokenizer_vocab = 0;
  LlmSpecialIds special_ids;
  int64_t llm_params = 0, clip_params = 0, adapter_params = 0;
  int64_t bytes_written = 0;  // all files of the directory
  int n_llm_shards = 1;
  double seconds = 0;
  std::vector<std::string> notes;  // decisions worth telling the user (vocab grown, pad added)
};

// Writes the directory. Errors: unknown preset (listing valid ones), unreadable tokenizer,
// non-empty `out_dir` without `force` (FailedPrecondition), `force` on a non-empty directory that
// is not an LMEye model directory (no adapter.json: refused, nothing is deleted), I/O failures.
absl::StatusOr<InitModelReport> InitModel(const InitModelOptions& options);

}  // namespace lmeye
