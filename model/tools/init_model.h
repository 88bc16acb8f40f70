// `lmeye init-model`: writes a complete LMEye model directory (the fixtures' layout, see
// lmeye_model.h) with random weights of a named shape and a real tokenizer, for tests and
// benchmarks that need text in and text out without downloading checkpoints.
//
// Architectures are data (docs/STYLE.md 2): a shape is a row of the preset tables below; tensor
// names come from the modules themselves (the LLM's CausalLm built on the meta device, the CLIP
// towers' modules), so LmeyeModel::Load accepts the output by construction.
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
#include "model/tools/init_model_presets.h"
#include "model/vision/clip_config.h"

namespace lmeye {

// "f32" | "bf16" | "f16" (also "float32", "bfloat16", "float16").
absl::StatusOr<InitDType> ParseInitDType(const std::string& name);
const char* InitDTypeName(InitDType dtype);  // "f32", ...

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
  // adapter.json's num_fine: K, the fine-grained vectors of the interaction (the paper's 5).
  // InvalidArgument unless in [1, 64] and K + 2 fits the text tower's positions.
  int num_fine = 5;
  // The vision tower's input size instead of the CLIP preset's (0: the preset's): the position
  // table, config.json and preprocessor_config.json follow it. InvalidArgument unless a positive
  // multiple of the preset's patch size.
  int image_size = 0;
  // Shard the LLM weights like Hugging Face above this size (model-0000k-of-0000n.safetensors +
  // model.safetensors.index.json).
  int64_t max_shard_bytes = 5'000'000'000;
  // Non-empty: the LMEye v0.1 layout (BLIP-2 Flan-T5) of this LingcloudV01Preset instead
  // (init_model_v01.h); family, llm_preset, clip_preset, num_fine and image_size are then unused.
  std::string v01_preset;

  // Real backbones instead of presets (init_model_backbones.h): when llm_dir is set, a Hugging
  // Face OPT / BLOOM / LLaMA directory with its tokenizer, and clip_dir a CLIPModel directory
  // with preprocessor_config.json; family, the presets, tokenizer_dir, dtype, image_size and
  // max_shard_bytes are then unused.
  std::string llm_dir;
  std::string clip_dir;
  std::string layout = "lmeye";  // the adapter: "lmeye" (num_fine) or "lingcloud-v0"
  int prompt_len = 5;            // lingcloud-v0: soft prompt rows of the interaction
  int query_len = 5;             // lingcloud-v0: <img-d> positions
  bool copy_backbones = false;   // copy the backbones instead of linking them
};

struct InitModelReport {
  std::string out_dir;
  InitDType dtype = InitDType::kF32;
  int64_t vocab_size = 0;  // the LLM's
  int64_t tokenizer_vocab = 0;
  LlmSpecialIds special_ids;
  int64_t llm_params = 0, clip_params = 0, adapter_params = 0;
  int64_t vision_params = 0;  // v0.1: the Blip2 vision tower and Q-Former (LLM: T5)
  int64_t bytes_written = 0;  // all files of the directory
  int n_llm_shards = 1;
  double seconds = 0;
  std::vector<std::string> notes;  // decisions worth telling the user (vocab grown, pad added)
};

// Writes the directory (with llm_dir set: InitModelFromBackbones). Errors: unknown preset (listing
// valid ones), unreadable tokenizer, non-empty `out_dir` without `force` (FailedPrecondition),
// `force` on a non-empty directory that is not an LMEye model directory (no adapter.json: refused,
// nothing is deleted), I/O failures.
absl::StatusOr<InitModelReport> InitModel(const InitModelOptions& options);

}  // namespace lmeye
