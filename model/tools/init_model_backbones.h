// `lmeye init-model --llm DIR --clip DIR`: an LMEye model directory around real, downloaded
// Hugging Face backbones with a freshly initialised adapter, so that a user can train the IPN for
// their own LLM (`lmeye train`). Either layout (InitModelOptions::layout):
// - "lmeye": this project's IPN (docs/DESIGN.md section 2), initialised as IpnAdapter does; the
//   LLM and CLIP directories are linked (or copied) unchanged.
// - "lingcloud-v0": the released LMEye v0 layout (docs/LINGCLOUD.md) as `lmeye import lingcloud`
//   writes it, initialised as the release's promot_model_instruction_remake (embedding_img(d)
//   N(0, 1), torch.nn.Linear's default elsewhere). The LLM needs the <img> and <img-d> tokens:
//   a tokenizer that has them (and rows for them) is linked as it is; otherwise they are added as
//   the release's training script adds them (the next two ids, then
//   resize_token_embeddings(len(tokenizer)): the table and an untied lm_head keep their first
//   rows and new rows are drawn N(0, initializer_range), seeded). That llm/ links the original
//   weight files and adds one safetensors file with the resized tables, a
//   model.safetensors.index.json naming where each tensor is, config.json with the new
//   vocab_size and added_tokens.json; nothing of the source directory is modified.
//
// Widths are checked before anything is written; a mismatch names both sides (v0: the CLIP image
// feature, text width and text projection must be one width, the release's clip_size). The
// directory is staged beside `out_dir` and renamed into place when complete.
#pragma once

#include "absl/status/statusor.h"
#include "model/tools/init_model.h"

namespace lmeye {

// Writes the directory for `options` with llm_dir and clip_dir set (the preset fields are unused).
// Errors: missing directories, a backbone without its tokenizer / both CLIP towers /
// preprocessor_config.json (InvalidArgument or NotFound), mismatched widths (InvalidArgument),
// an occupied out_dir (FailedPrecondition, as the presets' init-model), I/O failures.
absl::StatusOr<InitModelReport> InitModelFromBackbones(const InitModelOptions& options);

}  // namespace lmeye
