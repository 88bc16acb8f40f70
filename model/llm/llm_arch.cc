#include "model/llm/llm_arch.h"

#include <cstdio>

namespace lmeye {
namespace {

using json = nlohmann::json;

// Defaults are those of transformers v4.35's OPTConfig / BloomConfig / LlamaConfig (and of
// torch.nn.LayerNorm for OPT's eps, which OPTConfig does not expose).
LlmArch OptArch() {
  LlmArch a;
  a.family = LlmFamily::kOpt;
  a.model_type = "opt";
  a.architectures = {"OPTForCausalLM"};
  a.config_keys = {
      {"vocab_size", {"vocab_size"}, 50272},
      {"hidden_size", {"hidden_size"}, 768},
      {"embed_dim", {"word_embed_proj_dim"}, "=hidden_size"},
      {"n_layers", {"num_hidden_layers"}, 12},
      {"n_heads", {"num_attention_heads"}, 12},
      {"n_kv_heads", {}, "=n_heads"},
      {"ffn_dim", {"ffn_dim"}, 3072},
      {"max_positions", {"max_position_embeddings"}, 2048},
      {"norm_eps", {}, 1e-5},
      {"norm_affine", {"layer_norm_elementwise_affine"}, true},
      {"norm_before", {"do_layer_norm_before"}, true},
      {"remove_final_norm", {"_remove_final_layer_norm"}, false},
      {"residual_post_norm", {}, false},
      {"activation", {"activation_function"}, "relu"},
      {"attn_bias", {"enable_bias"}, true},
      {"mlp_bias", {"enable_bias"}, true},
      {"rope_theta", {}, 10000.0},
      {"rope_scaling", {}, nullptr},
      {"tie_word_embeddings", {"tie_word_embeddings"}, true},
      {"bos_token_id", {"bos_token_id"}, 2},
      {"eos_token_id", {"eos_token_id"}, 2},
      {"pad_token_id", {"pad_token_id"}, 1},
  };
  LlmTensorNames& t = a.tensors;
  t.bases = {"model.decoder", "decoder"};
  t.lm_head = "lm_head";
  t.embed_tokens = "embed_tokens";
  t.embed_positions = "embed_positions";
  t.project_in = "project_in";
  t.project_out = "project_out";
  t.final_norm = "final_layer_norm";
  t.layer = "layers.%d";
  t.attn_norm = "self_attn_layer_norm";
  t.q_proj = "self_attn.q_proj";
  t.k_proj = "self_attn.k_proj";
  t.v_proj = "self_attn.v_proj";
  t.o_proj = "self_attn.out_proj";
  t.mlp_norm = "final_layer_norm";
  t.up_proj = "fc1";
  t.down_proj = "fc2";
  a.norm = LlmNorm::kLayerNorm;
  a.positions = LlmPositions::kLearned;
  a.gated_mlp = false;
  a.fused_qkv = false;
  a.embed_norm = false;
  return a;
}

LlmArch BloomArch() {
  LlmArch a;
  a.family = LlmFamily::kBloom;
  a.model_type = "bloom";
  a.architectures = {"BloomForCausalLM"};
  a.config_keys = {
      {"vocab_size", {"vocab_size"}, 250880},
      // BloomConfig lets a legacy "n_embed" override hidden_size (bloomz-7b1 ships it).
      {"hidden_size", {"n_embed", "hidden_size"}, 64},
      {"embed_dim", {}, "=hidden_size"},
      {"n_layers", {"n_layer", "num_hidden_layers"}, 2},
      {"n_heads", {"n_head", "num_attention_heads"}, 8},
      {"n_kv_heads", {}, "=n_heads"},
      {"ffn_dim", {}, "=4*hidden_size"},
      {"max_positions", {}, 0},
      {"norm_eps", {"layer_norm_epsilon"}, 1e-5},
      {"norm_affine", {}, true},
      {"norm_before", {}, true},
      {"remove_final_norm", {}, false},
      {"residual_post_norm", {"apply_residual_connection_post_layernorm"}, false},
      {"activation", {}, "bloom_gelu"},
      {"attn_bias", {}, true},
      {"mlp_bias", {}, true},
      {"rope_theta", {}, 10000.0},
      {"rope_scaling", {}, nullptr},
      {"tie_word_embeddings", {"tie_word_embeddings"}, true},
      {"bos_token_id", {"bos_token_id"}, 1},
      {"eos_token_id", {"eos_token_id"}, 2},
      {"pad_token_id", {"pad_token_id"}, nullptr},
  };
  LlmTensorNames& t = a.tensors;
  t.bases = {"transformer", ""};
  t.lm_head = "lm_head";
  t.embed_tokens = "word_embeddings";
  t.embed_norm = "word_embeddings_layernorm";
  t.final_norm = "ln_f";
  t.layer = "h.%d";
  t.attn_norm = "input_layernorm";
  t.qkv_proj = "self_attention.query_key_value";
  t.o_proj = "self_attention.dense";
  t.mlp_norm = "post_attention_layernorm";
  t.up_proj = "mlp.dense_h_to_4h";
  t.down_proj = "mlp.dense_4h_to_h";
  a.norm = LlmNorm::kLayerNorm;
  a.positions = LlmPositions::kAlibi;
  a.gated_mlp = false;
  a.fused_qkv = true;
  a.embed_norm = true;
  return a;
}

LlmArch LlamaArch() {
  LlmArch a;
  a.family = LlmFamily::kLlama;
  a.model_type = "llama";
  // "LLaMAForCausalLM": the name early conversions (and some Vicuna releases) wrote.
  a.architectures = {"LlamaForCausalLM", "LLaMAForCausalLM"};
  a.config_keys = {
      {"vocab_size", {"vocab_size"}, 32000},
      {"hidden_size", {"hidden_size"}, 4096},
      {"embed_dim", {}, "=hidden_size"},
      {"n_layers", {"num_hidden_layers"}, 32},
      {"n_heads", {"num_attention_heads"}, 32},
      {"n_kv_heads", {"num_key_value_heads"}, "=n_heads"},
      {"ffn_dim", {"intermediate_size"}, 11008},
      {"max_positions", {"max_position_embeddings"}, 2048},
      {"norm_eps", {"rms_norm_eps"}, 1e-6},
      {"norm_affine", {}, true},
      {"norm_before", {}, true},
      {"remove_final_norm", {}, false},
      {"residual_post_norm", {}, false},
      {"activation", {"hidden_act"}, "silu"},
      {"attn_bias", {"attention_bias"}, false},
      {"mlp_bias", {}, false},
      {"rope_theta", {"rope_theta"}, 10000.0},
      {"rope_scaling", {"rope_scaling"}, nullptr},
      {"tie_word_embeddings", {"tie_word_embeddings"}, false},
      {"bos_token_id", {"bos_token_id"}, 1},
      {"eos_token_id", {"eos_token_id"}, 2},
      {"pad_token_id", {"pad_token_id"}, nullptr},
  };
  LlmTensorNames& t = a.tensors;
  t.bases = {"model"};
  t.lm_head = "lm_head";
  t.embed_tokens = "embed_tokens";
  t.final_norm = "norm";
  t.layer = "layers.%d";
  t.attn_norm = "input_layernorm";
  t.q_proj = "self_attn.q_proj";
  t.k_proj = "self_attn.k_proj";
  t.v_proj = "self_attn.v_proj";
  t.o_proj = "self_attn.o_proj";
  t.mlp_norm = "post_attention_layernorm";
  t.up_proj = "mlp.up_proj";
  t.gate_proj = "mlp.gate_proj";
  t.down_proj = "mlp.down_proj";
  t.ignored_layer_tensors = {"self_attn.rotary_emb.inv_freq"};
  a.norm = LlmNorm::kRmsNorm;
  a.positions = LlmPositions::kRope;
  a.gated_mlp = true;
  a.fused_qkv = false;
  a.embed_norm = false;
  return a;
}

}  // namespace

const std::vector<LlmArch>& AllLlmArchs() {
  static const std::vector<LlmArch>* archs =
      new std::vector<LlmArch>{OptArch(), BloomArch(), LlamaArch()};
  return *archs;
}

const LlmArch& GetLlmArch(LlmFamily family) { return AllLlmArchs()[static_cast<int>(family)]; }

std::string LayerPath(const std::string& pattern, int64_t layer) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), pattern.c_str(), static_cast<int>(layer));
  return buf;
}

}  // namespace lmeye
