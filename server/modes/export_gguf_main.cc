#include "server/modes/export_gguf_main.h"

#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/flags.h"
#include "model/tools/gguf_export.h"
#include "model/tools/greedy_reference.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye export-gguf --model DIR --out FILE.gguf [--type f32|f16|bf16|q8_0] [flags]\n"
    "  Writes the LLaMA of an LMEye model directory (or a Hugging Face LLaMA directory) as a\n"
    "  llama.cpp GGUF v3 file: llama.cpp's tensor names, q/k rows in its RoPE layout, the\n"
    "  SentencePiece vocabulary. Prints one JSON line (tensors, bytes, weight bytes per token).\n"
    "  --greedy-reference FILE also writes our own greedy tokens (f32) on a fixed prompt, for\n"
    "  checking llama.cpp against (deploy/bench_peers.sh).\n";

}  // namespace

int ExportGgufMain(const std::vector<std::string>& args) {
  GgufExportOptions options;
  std::string type = "f16";
  std::string reference_out;
  GreedyReferenceOptions reference;
  const std::vector<Flag> flags = {
      StringFlag("model", &options.model_dir, "DIR", "LMEye model or LLaMA directory").Required(),
      StringFlag("out", &options.out, "FILE", "the GGUF file to write").Required(),
      StringFlag("type", &type, "f32|f16|bf16|q8_0", "matrix type (norms stay f32)").Default("f16"),
      StringFlag("greedy-reference", &reference_out, "FILE",
                 "also write our greedy tokens on a fixed prompt (JSON)"),
      IntFlag("greedy-steps", &reference.n_steps, "N", "greedy tokens of the reference", kPositive),
      IntFlag("greedy-prompt-tokens", &reference.n_prompt, "N", "prompt ids of the reference",
              kPositive),
  };
  if (std::optional<int> exit = ParseModeFlags("export-gguf", kAbout, flags, args)) return *exit;
  absl::StatusOr<GgmlType> parsed = ParseGgmlType(type);
  if (!parsed.ok()) return ModeUsageError("export-gguf", std::string(parsed.status().message()));
  options.type = *parsed;
  absl::StatusOr<GgufExportReport> r = ExportGguf(options);
  if (!r.ok()) {
    std::cerr << "lmeye export-gguf: " << r.status().message() << "\n";
    return 1;
  }
  nlohmann::json out = {{"out", options.out},
                        {"type", type},
                        {"llm_dir", r->llm_dir},
                        {"n_tensors", r->n_tensors},
                        {"n_vocab", r->n_vocab},
                        {"file_bytes", r->file_bytes},
                        {"weight_bytes_per_token", r->weight_bytes_per_token}};
  if (!reference_out.empty()) {
    reference.llm_dir = r->llm_dir;
    absl::StatusOr<GreedyReference> ref = RunGreedyReference(reference);
    absl::Status written = ref.status();
    if (ref.ok()) {
      written = WriteFileAtomically(reference_out, GreedyReferenceToJson(*ref).dump() + "\n");
    }
    if (!written.ok()) {
      std::cerr << "lmeye export-gguf: greedy reference: " << written.message() << "\n";
      return 1;
    }
    out["greedy_reference"] = reference_out;
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace lmeye
