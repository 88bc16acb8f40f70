#include "server/modes/data_main.h"

#include <iostream>
#include <optional>

#include "model/common/flags.h"
#include "model/synth/shapes_dataset.h"
#include "model/synth/shapes_render.h"
#include "server/modes/data_tokenizer_main.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kShapesAbout[] =
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
    "  (model/synth/shapes_dataset.h). Evaluate on another seed than the one trained on: scene k\n"
    "  depends only on (seed, k), so the same flags write the same bytes and a held-out set is a\n"
    "  run with another seed.\n";

int ShapesMain(const std::vector<std::string>& args) {
  synth::ShapesDatasetOptions options;
  const std::vector<Flag> flags = {
      StringFlag("out", &options.out_dir, "DIR", "where the dataset goes").Required(),
      IntFlag("n", &options.n_images, "N", "number of images", kPositive).Required(),
      IntFlag("seed", &options.seed, "S", "random seed"),
      IntFlag("size", &options.image_size, "PX", "image side in pixels",
              InRange(synth::kMinImageSize, synth::kMaxImageSize)),
      BoolFlag("clip-only", &options.clip_only,
               "only images/, clip.jsonl (the clip stage's pairs), scenes.jsonl, meta.json"),
  };
  if (std::optional<int> exit = ParseModeFlags("data shapes", kShapesAbout, flags, args)) {
    return *exit;
  }
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
