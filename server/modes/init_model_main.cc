#include "server/modes/init_model_main.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/tools/init_model.h"
#include "server/modes/cli_flags.h"

namespace lmeye {
namespace {

constexpr char kUsage[] =
    "usage: lmeye init-model --family opt|bloom|llama --tokenizer DIR --out DIR\n"
    "                        [--preset tiny] [--clip-preset tiny] [--dtype f32|bf16|f16]\n"
    "                        [--seed 0] [--force] [--max-shard-gb 5] [--num-fine 5]\n"
    "                        [--image-size N] [--list]\n"
    "  Writes an LMEye model directory (adapter.json, adapter.safetensors, clip/, llm/) with\n"
    "  random weights of a named shape and the tokenizer in DIR (copied into llm/; the LLM's\n"
    "  vocabulary covers it). --dtype defaults to f32 for presets under 1B parameters, bf16\n"
    "  above. --force replaces an existing LMEye model directory. --num-fine: the adapter's K\n"
    "  (fine-grained vectors of the interaction). --image-size: the vision tower's input instead\n"
    "  of the CLIP preset's (a multiple of its patch). --list prints the presets.\n";

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
}

}  // namespace

int InitModelMain(const std::vector<std::string>& args) {
  InitModelOptions options;
  std::string family;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool missing = false;
    std::string v;
    // --flag VALUE or --flag=VALUE (server/cli_flags.h).
    auto value = [&](const std::string& flag) -> bool {
      std::optional<std::string> got = FlagValue(args, i, flag, missing);
      if (got) v = *got;
      return got.has_value();
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--list") {
      PrintPresets();
      return 0;
    } else if (a == "--force") {
      options.force = true;
    } else if (value("--family")) {
      family = v;
    } else if (value("--preset")) {
      options.llm_preset = v;
    } else if (value("--clip-preset")) {
      options.clip_preset = v;
    } else if (value("--tokenizer")) {
      options.tokenizer_dir = v;
    } else if (value("--out")) {
      options.out_dir = v;
    } else if (value("--dtype")) {
      absl::StatusOr<InitDType> d = ParseInitDType(v);
      if (!d.ok()) {
        std::cerr << "lmeye init-model: --dtype: " << d.status().message() << "\n";
        return 2;
      }
      options.dtype = *d;
    } else if (value("--seed")) {
      if (!absl::SimpleAtoi(v, &options.seed)) {
        std::cerr << "lmeye init-model: --seed must be a non-negative integer, got \"" << v
                  << "\"\n";
        return 2;
      }
    } else if (value("--num-fine")) {
      if (!absl::SimpleAtoi(v, &options.num_fine)) {
        std::cerr << "lmeye init-model: --num-fine must be an integer, got \"" << v << "\"\n";
        return 2;
      }
    } else if (value("--image-size")) {
      if (!absl::SimpleAtoi(v, &options.image_size)) {
        std::cerr << "lmeye init-model: --image-size must be an integer, got \"" << v << "\"\n";
        return 2;
      }
    } else if (value("--max-shard-gb")) {
      double gb = 0;
      if (!absl::SimpleAtod(v, &gb) || !(gb > 0)) {
        std::cerr << "lmeye init-model: --max-shard-gb must be a positive number\n";
        return 2;
      }
      options.max_shard_bytes = static_cast<int64_t>(gb * 1e9);
    } else if (missing) {
      std::cerr << "lmeye init-model: " << a << " needs a value\n" << kUsage;
      return 2;
    } else {
      std::cerr << "lmeye init-model: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  if (family.empty() || options.tokenizer_dir.empty() || options.out_dir.empty()) {
    std::cerr << "lmeye init-model: --family, --tokenizer and --out are required\n" << kUsage;
    return 2;
  }
  absl::StatusOr<LlmFamily> f = ParseLlmFamily(family);
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
  if (!r.ok()) {
    std::cerr << "lmeye init-model: " << r.status().message() << "\n";
    const bool usage = r.status().code() == absl::StatusCode::kFailedPrecondition ||
                       r.status().code() == absl::StatusCode::kNotFound ||
                       r.status().code() == absl::StatusCode::kInvalidArgument;
    return usage ? 2 : 1;
  }
  for (const std::string& note : r->notes) std::cerr << "lmeye init-model: " << note << "\n";
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
