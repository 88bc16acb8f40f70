#include "model/tools/gguf_export.h"

#include <filesystem>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_config.h"
#include "model/tools/gguf_llama_names.h"
#include "model/tools/gguf_quant.h"
#include "model/tools/gguf_vocab.h"

namespace lmeye {
namespace {

// general.file_type (llama_ftype): what most matrices are.
uint32_t FileType(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return 0;  // LLAMA_FTYPE_ALL_F32
    case GgmlType::kF16:
      return 1;  // LLAMA_FTYPE_MOSTLY_F16
    case GgmlType::kQ8_0:
      return 7;  // LLAMA_FTYPE_MOSTLY_Q8_0
    case GgmlType::kBF16:
      return 32;  // LLAMA_FTYPE_MOSTLY_BF16
  }
  return 0;
}

void AddLlamaMetadata(const LlmConfig& c, const std::string& name, GgmlType type, GgufWriter& w) {
  w.AddString("general.architecture", "llama");
  w.AddString("general.name", name);
  w.AddUint32("general.file_type", FileType(type));
  w.AddUint32("general.alignment", 32);
  w.AddUint32("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.AddUint32("llama.context_length", static_cast<uint32_t>(c.max_positions));
  w.AddUint32("llama.embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.AddUint32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  w.AddUint32("llama.feed_forward_length", static_cast<uint32_t>(c.ffn_dim));
  w.AddUint32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  w.AddUint32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.AddUint32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.AddFloat32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  w.AddFloat32("llama.rope.freq_base", static_cast<float>(c.rope_theta));
  if (c.rope_linear_factor != 1.0) {
    w.AddString("llama.rope.scaling.type", "linear");
    w.AddFloat32("llama.rope.scaling.factor", static_cast<float>(c.rope_linear_factor));
  }
}

}  // namespace

absl::StatusOr<std::string> ResolveLlmDir(const std::string& model_dir) {
  absl::StatusOr<ModelDir> dir = ModelDir::Open(model_dir);
  if (dir.ok()) return dir->llm_dir();
  if (dir.status().code() != absl::StatusCode::kNotFound) return dir.status();
  if (FileExists(model_dir + "/config.json")) return model_dir;
  return absl::NotFoundError(
      absl::StrCat(model_dir, " has neither adapter.json (an LMEye model) nor config.json"));
}

absl::StatusOr<GgufExportReport> ExportGguf(const GgufExportOptions& o) {
  torch::NoGradGuard no_grad;
  GgufExportReport report;
  LMEYE_ASSIGN_OR_RETURN(report.llm_dir, ResolveLlmDir(o.model_dir));
  LMEYE_ASSIGN_OR_RETURN(LlmConfig config, LoadLlmConfig(report.llm_dir));
  LMEYE_ASSIGN_OR_RETURN(std::vector<GgufLlamaTensor> tensors, LlamaGgufTensors(config));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(report.llm_dir));
  LMEYE_ASSIGN_OR_RETURN(GgufVocab vocab, ReadGgufVocab(report.llm_dir, config.vocab_size));

  GgufWriter w;
  const std::string name = std::filesystem::path(o.model_dir).filename().string();
  AddLlamaMetadata(config, name.empty() ? "lmeye" : name, o.type, w);
  AddGgufVocab(vocab, w);
  report.n_vocab = static_cast<int64_t>(vocab.tokens.size());
  std::vector<GgmlType> types;
  for (const GgufLlamaTensor& t : tensors) {
    const CheckpointTensorInfo* info = ckpt->Info(t.hf_name);
    if (info == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(ckpt->location(), " has no tensor ", t.hf_name));
    }
    const GgmlType type = info->shape.size() == 1 ? GgmlType::kF32 : o.type;
    std::vector<int64_t> ne(info->shape.rbegin(), info->shape.rend());  // innermost first
    LMEYE_RETURN_IF_ERROR(w.AddTensor(t.gguf_name, type, ne));
    types.push_back(type);
    const uint64_t bytes = w.tensor_bytes(w.n_tensors() - 1);
    report.weight_bytes_per_token +=
        t.gguf_name == "token_embd.weight" ? bytes / static_cast<uint64_t>(info->shape[0]) : bytes;
  }
  if (config.tie_word_embeddings) report.weight_bytes_per_token += w.tensor_bytes(0);
  report.n_tensors = static_cast<int64_t>(w.n_tensors());
  LMEYE_RETURN_IF_ERROR(w.Write(o.out, [&](size_t i) -> absl::StatusOr<std::string> {
    const GgufLlamaTensor& t = tensors[i];
    LMEYE_ASSIGN_OR_RETURN(at::Tensor value, ckpt->Load(t.hf_name, at::kFloat));
    if (t.rope_heads > 0) {
      LMEYE_ASSIGN_OR_RETURN(value, GuardTorch(t.hf_name, [&]() -> absl::StatusOr<at::Tensor> {
                               return PermuteRopeRows(value, t.rope_heads);
                             }));
    }
    absl::StatusOr<std::string> bytes = ToGgmlBytes(value, types[i]);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(t.hf_name, ": ", bytes.status().message()));
    }
    return bytes;
  }));
  std::error_code ec;
  report.file_bytes = std::filesystem::file_size(o.out, ec);
  return report;
}

}  // namespace lmeye
