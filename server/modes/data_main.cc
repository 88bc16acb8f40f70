#include "server/modes/data_main.h"

#include <filesystem>
#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "model/synth/shapes_dataset.h"
#include "model/synth/shapes_render.h"
#include "server/modes/cli_flags.h"
#include "server/modes/data_tokenizer_main.h"

namespace lmeye {
namespace {

constexpr char kShapesUsage[] =
    "usage: lmeye data shapes --out DIR --n N [--seed S] [--size PX] [--clip-only]\n"
    "  A synthetic visual world rendered with OpenCV: scenes of 1 to 4 objects (circle, square,\n"
    "  triangle, diamond, cross; red, green, blue, yellow, purple, orange; small, large) on\n"
    "  plain or textured backgrounds, with captions, detailed descriptions and questions\n"
    "  (color, shape, size, count, exist, spatial, match, choice). Writes into DIR:\n"
    "    training (lmeye train):  captions.jsonl  instruct.jsonl (VQA lines under the\n"
    "      AnswerVQA prompt, descriptions under the Describe prompt)  text.jsonl\n"
    "    evaluation (lmeye_client eval --task vqa|choice|describe --data FILE):\n"
    "      eval_vqa.jsonl  eval_choice.jsonl  eval_describe.jsonl\n"
    "    images/NNNNNN.png  scenes.jsonl  meta.json\n"
    "  (model/synth/shapes_dataset.h). Evaluate on another seed than the one trained on.\n"
    "  --n      number of images (required, >= 1)\n"
    "  --seed   random seed (default 0); scene k depends only on (seed, k): the same flags\n"
    "           write the same bytes, a held-out set is a run with another seed\n"
    "  --size   image side in pixels (default 128, 64..1024)\n"
    "  --clip-only  only images/, clip.jsonl (the clip stage's pairs), scenes.jsonl, meta.json\n";

int UsageError(const std::string& message, const char* usage) {
  std::cerr << "lmeye data: " << message << "\n" << usage;
  return 2;
}

int ShapesMain(const std::vector<std::string>& args) {
  synth::ShapesDatasetOptions options;
  bool have_n = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kShapesUsage;
      return 0;
    }
    if (a == "--clip-only") {
      options.clip_only = true;
      continue;
    }
    bool missing = false;
    if (std::optional<std::string> v = FlagValue(args, i, "--out", missing)) {
      options.out_dir = *v;
    } else if (std::optional<std::string> v = FlagValue(args, i, "--n", missing)) {
      if (!absl::SimpleAtoi(*v, &options.n_images) || options.n_images < 1) {
        return UsageError("--n must be a positive integer, got \"" + *v + "\"", kShapesUsage);
      }
      have_n = true;
    } else if (std::optional<std::string> v = FlagValue(args, i, "--seed", missing)) {
      if (!absl::SimpleAtoi(*v, &options.seed)) {
        return UsageError("--seed must be a non-negative integer, got \"" + *v + "\"",
                          kShapesUsage);
      }
    } else if (std::optional<std::string> v = FlagValue(args, i, "--size", missing)) {
      if (!absl::SimpleAtoi(*v, &options.image_size) || options.image_size < synth::kMinImageSize ||
          options.image_size > synth::kMaxImageSize) {
        return UsageError("--size must be an integer in [64, 1024], got \"" + *v + "\"",
                          kShapesUsage);
      }
    } else if (missing) {
      return UsageError(a + " needs a value", kShapesUsage);
    } else {
      return UsageError("unknown argument \"" + a + "\"", kShapesUsage);
    }
  }
  if (options.out_dir.empty()) return UsageError("--out is required", kShapesUsage);
  if (!have_n) return UsageError("--n is required", kShapesUsage);
  absl::StatusOr<synth::ShapesDatasetSummary> summary = synth::WriteShapesDataset(options);
  if (!summary.ok()) {
    std::cerr << "lmeye data shapes: " << summary.status().message() << "\n";
    return summary.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cerr << "lmeye data shapes: " << summary->n_images << " images, " << summary->n_instruct
            << " instruct lines, " << summary->n_text << " text lines, " << summary->n_eval_vqa
            << " vqa, " << summary->n_eval_choice << " choice and " << summary->n_eval_describe
            << " describe evaluation items -> " << options.out_dir << "\n";
  return 0;
}

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

// One row per dataset; the usage text is made from this table.
constexpr Subcommand kSubcommands[] = {
    {"shapes", "synthetic shapes world: images, training manifests, evaluation sets", ShapesMain},
    {"tokenizer", "a byte-level BPE vocabulary trained on manifests' text", DataTokenizerMain},
};

void PrintUsage(std::ostream& out) {
  out << "usage: lmeye data <dataset> [flags]   (lmeye data <dataset> --help)\ndatasets:\n";
  for (const Subcommand& s : kSubcommands) out << "  " << s.name << "   " << s.summary << "\n";
}

}  // namespace

int DataMain(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintUsage(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(std::cout);
    return 0;
  }
  for (const Subcommand& s : kSubcommands) {
    if (args[0] == s.name) return s.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "lmeye data: unknown dataset \"" << args[0] << "\"\n";
  PrintUsage(std::cerr);
  return 2;
}

}  // namespace lmeye
