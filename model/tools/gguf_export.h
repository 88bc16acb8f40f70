// `lmeye export-gguf`: a LLaMA model (an LMEye model directory's LLM, or a Hugging Face LLaMA
// directory) as one llama.cpp GGUF v3 file, so llama.cpp runs the same weights as LMEye (the
// peer benchmark, deploy/bench_peers.sh). Metadata: the llama.* hyperparameters and the
// tokenizer (gguf_vocab.h); tensors: llama.cpp's names with q/k rows in its RoPE layout
// (gguf_llama_names.h). Norm weights stay f32 whatever the type, as llama.cpp's converter
// keeps every 1-D tensor; matrices are `type`.
//
// Memory: one tensor at a time (float32 while converting): ~0.6 GB for a 1.1B model's
// embedding table.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/tools/gguf_writer.h"

namespace lmeye {

struct GgufExportOptions {
  std::string model_dir;  // LMEye model directory (adapter.json) or the LLM directory itself
  std::string out;        // the .gguf file
  GgmlType type = GgmlType::kF16;
};

struct GgufExportReport {
  std::string llm_dir;
  int64_t n_tensors = 0;
  int64_t n_vocab = 0;
  uint64_t file_bytes = 0;
  // What llama.cpp reads per decoded token: every tensor but token_embd (one row of it).
  uint64_t weight_bytes_per_token = 0;
};

// Errors: not a LLaMA, a tokenizer that is not SentencePiece, a matrix row not a multiple of 32
// for q8_0, missing tensors, I/O. Nothing is left at `out` on failure.
absl::StatusOr<GgufExportReport> ExportGguf(const GgufExportOptions& options);

// The LLM directory of `model_dir`: adapter.json's llm folder, or `model_dir` itself when it
// has a config.json and no adapter.json.
absl::StatusOr<std::string> ResolveLlmDir(const std::string& model_dir);

}  // namespace lmeye
