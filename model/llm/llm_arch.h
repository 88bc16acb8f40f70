// Architectures are data (docs/STYLE.md 2): one table per family from LlmConfig fields to the
// config.json keys (with the transformers defaults) and from model parts to the checkpoint's
// tensor names. The generic decoder (llm_modules.h) registers its modules under these names, so
// loading a checkpoint is LoadModuleWeights and a missing or extra tensor is a clear error.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/llm/llm_config.h"

namespace lmeye {

// One LlmConfig value: the config.json keys that may hold it (first present and non-null wins;
// aliases such as BLOOM's legacy "n_embed") and the transformers default when none is present.
// A default "=field" copies another field's value ("=4*field": four times it); null = none.
struct LlmConfigKey {
  std::string field;  // LlmConfig member it fills, e.g. "n_layers"
  std::vector<std::string> keys;
  nlohmann::json default_value;
};

// Checkpoint tensor names of one family. Paths are dotted module paths relative to `base` (the
// decoder's module path, e.g. "model.decoder"); "" = the family has no such part. Layer paths
// are relative to `layer`, a printf pattern with one %d ("layers.%d").
struct LlmTensorNames {
  // Decoder module path in HF's *ForCausalLM checkpoints, then aliases found in the wild
  // (BLOOM's hub checkpoints are saved from BloomModel, without "transformer.").
  std::vector<std::string> bases;
  std::string lm_head;  // at the checkpoint root; absent when tied
  std::string embed_tokens;
  std::string embed_positions;  // OPT learned positions
  std::string embed_norm;       // BLOOM word_embeddings_layernorm
  std::string project_in;       // OPT, when embed_dim != hidden_size
  std::string project_out;
  std::string final_norm;
  std::string layer;
  std::string attn_norm;
  std::string q_proj, k_proj, v_proj;
  std::string qkv_proj;  // fused (BLOOM)
  std::string o_proj;
  std::string mlp_norm;
  std::string up_proj;    // first MLP linear (fc1, dense_h_to_4h, up_proj)
  std::string gate_proj;  // gated MLP only (LLaMA)
  std::string down_proj;
  // Per-layer tensors some checkpoints carry that the model recomputes (relative to `layer`),
  // e.g. old LLaMA checkpoints' rotary_emb.inv_freq.
  std::vector<std::string> ignored_layer_tensors;
};

struct LlmArch {
  LlmFamily family;
  std::string model_type;                  // config.json "model_type"
  std::vector<std::string> architectures;  // supported config.json "architectures"
  std::vector<LlmConfigKey> config_keys;
  LlmTensorNames tensors;
  // Fixed traits of the family.
  LlmNorm norm;
  LlmPositions positions;
  bool gated_mlp;
  bool fused_qkv;
  bool embed_norm;
};

// Every supported family, in LlmFamily order.
const std::vector<LlmArch>& AllLlmArchs();
const LlmArch& GetLlmArch(LlmFamily family);

// "layers.%d" + 3 -> "layers.3".
std::string LayerPath(const std::string& pattern, int64_t layer);

}  // namespace lmeye
