// What `lmeye train` leaves in output_dir: a servable LMEye model directory (lmeye_model.h's
// layout) made of the part the stage trained, written there, and links to the parts it did not
// touch, so stages chain (init-model -> clip -> lm -> align -> instruct) and every stage's output
// is what `lmeye serve --model` loads.
//
// Backbones are written in Hugging Face layout (config.json, model.safetensors, the tokenizer
// and preprocessor files copied from where they were read), so transformers and our own loaders
// read them unchanged.
#pragma once

#include <set>
#include <string>

#include <c10/core/ScalarType.h>

#include "absl/status/status.h"
#include "model/ipn/adapter_config.h"
#include "model/train/adamw.h"  // NamedTensors

namespace lmeye {

// Completes `out_dir` next to what a stage wrote into it: adapter.json (copied from
// `model_dir`), adapter.safetensors (copied unless `adapter_written`), and for each backbone
// subdirectory of `adapter` not in `written` a link to the real directory it resolves to in
// `model_dir` (never a chain of links through earlier outputs). Nothing is copied or linked when
// `out_dir` is `model_dir`, or where the entry already exists.
absl::Status CompleteModelDir(const std::string& model_dir, const std::string& out_dir,
                              const IpnAdapterConfig& adapter, const std::set<std::string>& written,
                              bool adapter_written);

// Writes a Hugging Face backbone directory `dst_dir`: `tensors` as model.safetensors in `dtype`
// (metadata format "pt"), and every other file of `src_dir` that describes the model rather than
// its weights (config.json with torch_dtype updated, tokenizer and preprocessor files). Skipped:
// weights (*.safetensors, their index, *.bin) and golden outputs (golden.*), which no longer
// hold. A link at `dst_dir` is replaced by a real directory; `src_dir` may be `dst_dir`.
absl::Status WriteBackboneDir(const std::string& src_dir, const std::string& dst_dir,
                              const NamedTensors& tensors, at::ScalarType dtype);

}  // namespace lmeye
