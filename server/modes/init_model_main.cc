#include "server/modes/init_model_main.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/common/flags.h"
#include "model/tools/init_model.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye init-model --family opt|bloom|llama --tokenizer DIR --out DIR [flags]\n"
    "       lmeye init-model --v01-preset NAME --tokenizer T5_DIR --out DIR [flags]\n"
    "       lmeye init-model --llm HF_LLM_DIR --clip HF_CLIP_DIR [--layout lmeye|lingcloud-v0]\n"
    "                        --out DIR [flags]\n"
    "  Writes an LMEye model directory (adapter.json, adapter.safetensors, clip/, llm/) with\n"
    "  random weights of a named shape and the tokenizer in DIR (copied into llm/; the LLM's\n"
    "  vocabulary covers it). With --v01-preset: the LMEye v0.1 layout (BLIP-2 Flan-T5, blip2/ +\n"
    "  clip/) of that shape, DIR a T5 tokenizer (spiece.model); <img-d>/<img-q> are added.\n"
    "  With --llm and --clip: around those downloaded Hugging Face backbones (linked, or copied\n"
    "  with --copy), a freshly initialised adapter of the layout, to train with `lmeye train`;\n"
    "  lingcloud-v0 adds <img>/<img-d> to the LLM's tokenizer and embeddings where missing.\n";

void PrintPresets() {
  std::cout << "LLM presets (--family F --preset NAME):\n";
  for (const LlmPreset& p : LlmPresets()) {
    std::cout << absl::StrFormat(
        "  %-6s %-5s %-40s layers %2d hidden %4d heads %2d ffn %5d vocab %-6s %s %s\n",
        LlmFamilyName(p.family), p.name, absl::StrJoin(p.aliases, ","), p.n_layers, p.hidden_size,
        p.n_heads, p.ffn_dim > 0 ? p.ffn_dim : 4 * p.hidden_size,
        p.vocab_size > 0 ? absl::StrCat(p.vocab_size) : "tok", InitDTypeName(p.default_dtype),
        p.real_name);
  }
  std::cout << "CLIP presets (--clip-preset NAME):\n";
  for (const ClipPreset& p : ClipPresets()) {
    std::cout << absl::StrFormat(
        "  %-8s vision %4d x %2d layers, patch %2d/%d; text %3d x %2d layers; proj %3d %s\n",
        p.name, p.vision_hidden, p.vision_layers, p.patch_size, p.image_size, p.text_hidden,
        p.text_layers, p.projection_dim, p.real_name);
  }
  std::cout << "LMEye v0.1 presets (--v01-preset NAME):\n";
  for (const LingcloudV01Preset& p : LingcloudV01Presets()) {
    std::cout << absl::StrFormat(
        "  %-10s %-26s EVA %4d x %2d; Q-Former %3d x %2d, %2d queries; T5 %4d x %2d+%2d, ff %4d;"
        " CLIP %s; %s %s\n",
        p.name, absl::StrJoin(p.aliases, ","), p.vision_hidden, p.vision_layers, p.qformer_hidden,
        p.qformer_layers, p.n_query_tokens, p.d_model, p.encoder_layers, p.decoder_layers, p.d_ff,
        p.clip_preset, InitDTypeName(p.default_dtype), p.real_name);
  }
}

// Says why init-model failed; the exit code is 2 where the caller can mend it (a missing or
// wrong input), 1 otherwise.
int ReportFailure(const absl::Status& status) {
  std::cerr << "lmeye init-model: " << status.message() << "\n";
  const bool usage = status.code() == absl::StatusCode::kFailedPrecondition ||
                     status.code() == absl::StatusCode::kNotFound ||
                     status.code() == absl::StatusCode::kInvalidArgument;
  return usage ? 2 : 1;
}

// The v0.1 layout's summary.
int PrintV01Report(const InitModelOptions& options, const InitModelReport& r) {
  std::cout << absl::StrFormat(
      "wrote %s: LMEye v0.1 %s, %s\n"
      "  parameters: vision + Q-Former %d, T5 %d, clip %d, adapter %d\n"
      "  T5 vocab %d (tokenizer %d ids), %d blip2 weight file(s)\n"
      "  %d bytes in %.1f s\n",
      r.out_dir, options.v01_preset, InitDTypeName(r.dtype), r.vision_params, r.llm_params,
      r.clip_params, r.adapter_params, r.vocab_size, r.tokenizer_vocab, r.n_llm_shards,
      r.bytes_written, r.seconds);
  return 0;
}

// --llm / --clip: writes the directory and says what it made.
int PrintBackbonesReport(const InitModelOptions& options) {
  absl::StatusOr<InitModelReport> r = InitModel(options);
  if (!r.ok()) return ReportFailure(r.status());
  for (const std::string& note : r->notes) std::cerr << "lmeye init-model: " << note << "\n";
  std::cout << absl::StrFormat(
      "wrote %s: layout %s around %s and %s (%s)\n"
      "  adapter %d parameters, fresh; LLM vocab %d (tokenizer %d ids)\n"
      "  train it: lmeye train --model %s --stage align ...\n",
      r->out_dir, options.layout, options.llm_dir, options.clip_dir,
      options.copy_backbones ? "copied" : "linked", r->adapter_params, r->vocab_size,
      r->tokenizer_vocab, r->out_dir);
  return 0;
}

}  // namespace

int InitModelMain(const std::vector<std::string>& args) {
  InitModelOptions options;
  std::string family;
  bool list = false;
  double max_shard_gb = static_cast<double>(options.max_shard_bytes) / 1e9;
  const std::vector<Flag> flags = {
      StringFlag("family", &family, "opt|bloom|llama", "LLM family (required)"),
      StringFlag("tokenizer", &options.tokenizer_dir, "DIR",
                 "tokenizer directory, copied into llm/ (required)"),
      StringFlag("out", &options.out_dir, "DIR", "the model directory to write (required)"),
      StringFlag("preset", &options.llm_preset, "NAME", "LLM shape (--list)"),
      StringFlag("clip-preset", &options.clip_preset, "NAME", "CLIP shape (--list)"),
      CustomFlag("dtype", FlagKind::kString, "f32|bf16|f16",
                 "weights; default f32 under 1B parameters, bf16 above",
                 [&](const std::string& v) -> absl::Status {
                   absl::StatusOr<InitDType> d = ParseInitDType(v);
                   if (!d.ok()) {
                     return absl::InvalidArgumentError(
                         absl::StrCat("--dtype: ", d.status().message()));
                   }
                   options.dtype = *d;
                   return absl::OkStatus();
                 }),
      IntFlag("seed", &options.seed, "S", "random seed of the weights"),
      BoolFlag("force", &options.force, "replace an existing LMEye model directory"),
      DoubleFlag("max-shard-gb", &max_shard_gb, "GB", "LLM weight files above this are sharded",
                 kPositive),
      IntFlag("num-fine", &options.num_fine, "K",
              "the adapter's K (fine-grained vectors of the interaction)", kPositive),
      IntFlag("image-size", &options.image_size, "N",
              "the vision tower's input instead of the CLIP preset's (a multiple of its patch); "
              "0: the preset's",
              kNonNegative),
      StringFlag("v01-preset", &options.v01_preset, "NAME",
                 "write the LMEye v0.1 layout (BLIP-2 Flan-T5) of this shape instead (--list)"),
      BoolFlag("list", &list, "print the presets and exit"),
      StringFlag("llm", &options.llm_dir, "DIR",
                 "a downloaded Hugging Face OPT/BLOOM/LLaMA directory (with its tokenizer) "
                 "instead of a preset"),
      StringFlag("clip", &options.clip_dir, "DIR",
                 "a downloaded Hugging Face CLIPModel directory (with --llm)"),
      StringFlag("layout", &options.layout, "lmeye|lingcloud-v0",
                 "with --llm: the adapter's layout (this project's IPN, or the released v0)"),
      IntFlag("prompt-len", &options.prompt_len, "P",
              "lingcloud-v0: soft prompt rows of the interaction", kPositive),
      IntFlag("query-len", &options.query_len, "Q", "lingcloud-v0: <img-d> positions", kPositive),
      BoolFlag("copy", &options.copy_backbones, "with --llm: copy the backbones, not link them"),
  };
  if (std::optional<int> exit = ParseModeFlags("init-model", kAbout, flags, args)) return *exit;
  if (list) {
    PrintPresets();
    return 0;
  }
  options.max_shard_bytes = static_cast<int64_t>(max_shard_gb * 1e9);
  if (!options.llm_dir.empty() || !options.clip_dir.empty()) {
    if (options.llm_dir.empty() || options.clip_dir.empty() || options.out_dir.empty()) {
      return ModeUsageError("init-model", "--llm, --clip and --out are required together");
    }
    return PrintBackbonesReport(options);
  }
  if (!options.v01_preset.empty()) {
    if (options.tokenizer_dir.empty() || options.out_dir.empty()) {
      return ModeUsageError("init-model", "--tokenizer and --out are required");
    }
    if (absl::Status s = FindLingcloudV01Preset(options.v01_preset).status(); !s.ok()) {
      std::cerr << "lmeye init-model: " << s.message() << "\n";
      return 2;
    }
  } else if (family.empty() || options.tokenizer_dir.empty() || options.out_dir.empty()) {
    return ModeUsageError("init-model", "--family, --tokenizer and --out are required");
  }
  absl::StatusOr<LlmFamily> f =
      options.v01_preset.empty() ? ParseLlmFamily(family) : LlmFamily::kOpt;  // unused for v0.1
  if (!f.ok()) {
    std::cerr << "lmeye init-model: --family: " << f.status().message() << "\n";
    return 2;
  }
  options.family = *f;
  // Preset names are checked before anything is read or written.
  for (const absl::Status& s : {FindLlmPreset(options.family, options.llm_preset).status(),
                                FindClipPreset(options.clip_preset).status()}) {
    if (!s.ok()) {
      std::cerr << "lmeye init-model: " << s.message() << "\n";
      return 2;
    }
  }
  absl::StatusOr<InitModelReport> r = InitModel(options);
  if (!r.ok()) return ReportFailure(r.status());
  for (const std::string& note : r->notes) std::cerr << "lmeye init-model: " << note << "\n";
  if (!options.v01_preset.empty()) return PrintV01Report(options, *r);
  std::cout << absl::StrFormat(
      "wrote %s: %s %s + CLIP %s, %s\n"
      "  parameters: llm %d, clip %d, adapter %d\n"
      "  vocab %d (tokenizer %d ids; bos %d eos %d pad %d), %d LLM weight file(s)\n"
      "  %d bytes in %.1f s\n",
      r->out_dir, family, options.llm_preset, options.clip_preset, InitDTypeName(r->dtype),
      r->llm_params, r->clip_params, r->adapter_params, r->vocab_size, r->tokenizer_vocab,
      r->special_ids.bos, r->special_ids.eos, r->special_ids.pad, r->n_llm_shards, r->bytes_written,
      r->seconds);
  return 0;
}

}  // namespace lmeye
