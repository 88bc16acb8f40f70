#include "server/modes/import_main.h"

#include <iostream>
#include <optional>

#include "model/common/flags.h"
#include "model/tools/lingcloud_import.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye import lingcloud --checkpoint FILE.pth (--llm DIR | --blip2 DIR) --clip DIR "
    "--out DIR\n"
    "  Makes a model directory from the LMEye files the authors released: their IPN checkpoint\n"
    "  (torch.save, legacy or zip format), the Hugging Face backbone it was trained on and the "
    "CLIP\n"
    "  model. v0: --llm, the LLaMA or BLOOM resized for the added <img> and <img-d> tokens; v0.1:\n"
    "  --blip2, the Blip2 Flan-T5 directory with <img-d> and <img-q> added. The layout is read "
    "from\n"
    "  the checkpoint. Prints what it found; refuses mismatched widths. See docs/LINGCLOUD.md.\n";

}  // namespace

int ImportMain(const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "lingcloud" && args[0] != "--help" && args[0] != "-h")) {
    std::cerr << "lmeye import: the first argument names the layout: lingcloud\n" << kAbout;
    return 2;
  }
  LingcloudImportOptions options;
  const std::vector<Flag> flags = {
      StringFlag("checkpoint", &options.checkpoint, "FILE", "the release's .pth").Required(),
      StringFlag("llm", &options.llm_dir, "DIR", "v0: Hugging Face LLM with <img>, <img-d> added"),
      StringFlag("blip2", &options.blip2_dir, "DIR",
                 "v0.1: Hugging Face Blip2 Flan-T5 with <img-d>, <img-q> added"),
      StringFlag("clip", &options.clip_dir, "DIR", "Hugging Face CLIPModel").Required(),
      StringFlag("out", &options.out_dir, "DIR", "the model directory to write").Required(),
      BoolFlag("copy", &options.copy_backbones, "copy the backbones instead of linking them"),
      StringFlag("embedding-img", &options.embedding_img_from, "embedding_imgd|embedding_img",
                 "the stored vector used as embedding_img (the release: embedding_imgd)"),
      BoolFlag("add-bos", &options.add_bos, "BOS before every prompt (the release's --add_bos)"),
      StringFlag("first-pass-hidden", &options.first_pass_hidden, "final_norm|pre_norm",
                 "v0: the first pass's state the request reads, after (default) or before the "
                 "LLM's final norm (docs/LINGCLOUD.md ambiguity 1)"),
  };
  const std::vector<std::string> rest(args.begin() + (args[0] == "lingcloud" ? 1 : 0), args.end());
  if (std::optional<int> exit = ParseModeFlags("import lingcloud", kAbout, flags, rest)) {
    return *exit;
  }
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(options);
  if (!report.ok()) {
    std::cerr << "lmeye import lingcloud: " << report.status().message() << "\n";
    return 1;
  }
  for (const std::string& line : report->lines) std::cout << line << "\n";
  return 0;
}

}  // namespace lmeye
