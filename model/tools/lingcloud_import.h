// `lmeye import lingcloud`: a model directory from the files the LMEye authors released
// (docs/LINGCLOUD.md), either layout:
// - v0: their IPN checkpoint (`checkpoint_with_epoch4.pth`, a torch.save of {'net', 'optimizer',
//   'epoch'} in either of torch's formats), the Hugging Face LLM it was trained on (resized for
//   <img> and <img-d>, with those added tokens) and the CLIP model. Writes OUT/adapter.json (layout
//   lingcloud-v0 and every choice stated: prompt_len, query_len, the token ids, which stored vector
//   is embedding_img, the tokenization rule) and OUT/llm, OUT/clip.
// - v0.1: their `lmeye_checkpoint.pth` (instruction_* and a re-trained language_projection), the
//   Blip2 Flan-T5 directory and the CLIP model. Writes OUT/adapter.json (layout lingcloud-v0.1: the
//   <img-d>/<img-q> ids, the CLIP end ids, the interaction rows as released) and OUT/blip2,
//   OUT/clip.
// Both write OUT/adapter.safetensors (the `net` tensors under their release names, "module."
// removed, float32: float16 values convert exactly) and the backbones as links (or copies). Widths
// are checked against the backbones before anything is written; a mismatch names both sides.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lmeye {

struct LingcloudImportOptions {
  std::string checkpoint;  // the release's .pth
  // v0: the Hugging Face LLM (LLaMA or BLOOM) with <img>, <img-d> added.
  std::string llm_dir;
  // v0.1: the Hugging Face Blip2 Flan-T5 directory (Blip2ForConditionalGeneration) with <img-d>,
  // <img-q> added to its T5 tokenizer.
  std::string blip2_dir;
  std::string clip_dir;         // Hugging Face CLIPModel (v0: both towers; v0.1: the text tower)
  std::string out_dir;          // created; must not exist, or be empty
  bool copy_backbones = false;  // copy the backbones instead of linking them
  // "embedding_imgd": what the release's loader uses as embedding_img (docs/LINGCLOUD.md
  // ambiguity 3); "embedding_img": the stored embedding_img, as the training script meant.
  std::string embedding_img_from = "embedding_imgd";
  bool add_bos = false;  // the release's --add_bos (v0)
  // v0: "final_norm" or "pre_norm", which first-pass state the request reads (adapter_config.h).
  std::string first_pass_hidden = "final_norm";
};

struct LingcloudImportReport {
  std::vector<std::string> lines;  // what was found: entries, keys, dtypes, shapes, widths, ids
};

// Reads the checkpoint, tells the layout from its parameter names (v0.1's are instruction_*) and
// imports it; the backbone flag of the other layout must be empty.
absl::StatusOr<LingcloudImportReport> ImportLingcloud(const LingcloudImportOptions& options);

}  // namespace lmeye
