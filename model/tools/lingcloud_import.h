// `lmeye import lingcloud`: a model directory from the files the LMEye authors released for v0
// (docs/LINGCLOUD.md): their IPN checkpoint (`checkpoint_with_epoch4.pth`, a torch.save of
// {'net', 'optimizer', 'epoch'} in either of torch's formats), the Hugging Face LLM it was trained
// on (resized for <img> and <img-d>, with those added tokens) and the CLIP model.
//
// It writes OUT/adapter.json (layout lingcloud-v0 and every choice stated: prompt_len, query_len,
// the token ids, which stored vector is embedding_img, the tokenization rule),
// OUT/adapter.safetensors (the `net` tensors under their release names, float32: float16 values
// convert exactly) and OUT/llm, OUT/clip as links to (or copies of) the backbones. Widths are
// checked against the backbones before anything is written; a mismatch names both sides.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lmeye {

struct LingcloudImportOptions {
  std::string checkpoint;       // the release's .pth
  std::string llm_dir;          // Hugging Face LLM (LLaMA or BLOOM) with <img>, <img-d> added
  std::string clip_dir;         // Hugging Face CLIPModel (both towers, projections)
  std::string out_dir;          // created; must not exist, or be empty
  bool copy_backbones = false;  // copy llm/ and clip/ instead of linking them
  // "embedding_imgd": what the release's loader uses as embedding_img (docs/LINGCLOUD.md
  // ambiguity 3); "embedding_img": the stored embedding_img, as the training script meant.
  std::string embedding_img_from = "embedding_imgd";
  bool add_bos = false;  // the release's --add_bos
};

struct LingcloudImportReport {
  std::vector<std::string> lines;  // what was found: entries, keys, dtypes, shapes, widths, ids
};

absl::StatusOr<LingcloudImportReport> ImportLingcloudV0(const LingcloudImportOptions& options);

}  // namespace lmeye
