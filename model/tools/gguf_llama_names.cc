#include "model/tools/gguf_llama_names.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/llm/llm_arch.h"

namespace lmeye {

absl::StatusOr<std::vector<GgufLlamaTensor>> LlamaGgufTensors(const LlmConfig& config) {
  if (config.family != LlmFamily::kLlama) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF export supports LLaMA models, not ", LlmFamilyName(config.family)));
  }
  if (config.attn_bias || config.mlp_bias) {
    return absl::InvalidArgumentError("GGUF export: LLaMA with biases is not supported");
  }
  const LlmTensorNames& t = GetLlmArch(LlmFamily::kLlama).tensors;
  const std::string base = t.bases.front() + ".";
  std::vector<GgufLlamaTensor> out;
  out.push_back({base + t.embed_tokens + ".weight", "token_embd.weight"});
  for (int64_t i = 0; i < config.n_layers; ++i) {
    const std::string layer = base + absl::StrReplaceAll(t.layer, {{"%d", absl::StrCat(i)}}) + ".";
    const std::string blk = absl::StrCat("blk.", i, ".");
    auto add = [&](const std::string& hf, const char* gguf, int64_t rope_heads = 0) {
      out.push_back({layer + hf + ".weight", blk + gguf + ".weight", rope_heads});
    };
    add(t.attn_norm, "attn_norm");
    add(t.q_proj, "attn_q", config.n_heads);
    add(t.k_proj, "attn_k", config.n_kv_heads);
    add(t.v_proj, "attn_v");
    add(t.o_proj, "attn_output");
    add(t.mlp_norm, "ffn_norm");
    add(t.gate_proj, "ffn_gate");
    add(t.up_proj, "ffn_up");
    add(t.down_proj, "ffn_down");
  }
  out.push_back({base + t.final_norm + ".weight", "output_norm.weight"});
  if (!config.tie_word_embeddings) out.push_back({t.lm_head + ".weight", "output.weight"});
  return out;
}

at::Tensor PermuteRopeRows(const at::Tensor& weight, int64_t n_heads) {
  const int64_t rows = weight.size(0);
  // [heads, 2 (half), d/2, in] -> [heads, d/2, 2, in]: row (h, j, i) goes to (h, i, j).
  return weight.reshape({n_heads, 2, rows / n_heads / 2, -1})
      .transpose(1, 2)
      .reshape(weight.sizes());
}

}  // namespace lmeye
