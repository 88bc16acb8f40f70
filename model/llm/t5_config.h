// The configuration of a T5 encoder-decoder (T5ForConditionalGeneration, e.g. Flan-T5), parsed
// from a Hugging Face T5 `config.json` object or from the `text_config` object of a Blip2Config
// (BLIP-2 Flan-T5 nests its language model there). Keys the object omits take transformers'
// (v4.29) T5Config defaults.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

// The feed-forward activation (HF dense_act_fn). gated-gelu means gelu_new (tanh approximation).
enum class T5Activation { kRelu, kGelu, kGeluTanh, kSilu };

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;  // per-head width; n_heads * d_kv need not equal d_model
  int64_t d_ff = 2048;
  int64_t n_heads = 8;
  int64_t n_layers = 6;          // encoder blocks (num_layers)
  int64_t n_decoder_layers = 6;  // num_decoder_layers, defaults to num_layers
  int64_t num_buckets = 32;      // relative_attention_num_buckets
  int64_t max_distance = 128;    // relative_attention_max_distance
  double norm_eps = 1e-6;        // layer_norm_epsilon
  // feed_forward_proj "gated-<act>": wo(act(wi_0 x) * wi_1 x), else wo(act(wi x)).
  bool gated = false;
  T5Activation activation = T5Activation::kRelu;
  // True (HF's default): lm_head is `shared` and the decoder output is scaled by d_model^-0.5
  // before it. Flan-T5 and BLIP-2 Flan-T5 have false (an lm_head of their own, no scaling).
  bool tie_word_embeddings = true;
  int64_t decoder_start_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t pad_token_id = 0;

  int64_t inner_dim() const { return n_heads * d_kv; }
};

// Parses a T5 config object. Errors (INVALID_ARGUMENT) name the offending key: a model_type other
// than "t5", a value of the wrong type, an unsupported feed_forward_proj or activation, a
// non-positive size.
absl::StatusOr<T5Config> ParseT5Config(const nlohmann::json& json);

// Reads `dir`/config.json: a T5 config, or a Blip2Config whose `text_config` is T5 (then
// `*prefix`, when not null, is set to "language_model.", the checkpoint names' prefix; else "").
absl::StatusOr<T5Config> LoadT5Config(const std::string& dir, std::string* prefix = nullptr);

}  // namespace lmeye
