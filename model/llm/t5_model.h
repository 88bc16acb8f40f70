// A T5 encoder-decoder (T5ForConditionalGeneration: T5, Flan-T5, the language model of BLIP-2
// Flan-T5) loaded from a Hugging Face checkpoint, numerically equal to transformers v4.29 in
// float32.
//
// Two ways to run the decoder:
// - Decode: the whole decoder sequence at once, no cache: HF's `model(encoder_outputs=...,
//   decoder_input_ids=...)`. The reference the cached path is tested against.
// - StartDecoding + DecodeStep: the engine's calls. StartDecoding projects each request's encoder
//   output into every decoder layer's cross-attention keys/values once and stores them in the
//   request's T5Cache slot; each DecodeStep then feeds one token per row and appends its
//   self-attention keys/values. Rows are independent: any set of in-use slots, in any order, of
//   different decoder and encoder lengths, may form a batch (continuous batching), and a row
//   gives the logits Decode gives for its sequence (tested to 1e-5).
//
// The LMEye v0.1 use (BLIP-2 Flan-T5), per batch of requests:
//   encoder     Encode(inputs_embeds [B, T, d] right-padded, mask)   (both IPN passes)
//   start       StartDecoding(encoder output, mask, cache, slots)    (once per request)
//   decode      DecodeStep(ids [B, 1], cache, running_slots) per step, starting from
//               config().decoder_start_token_id; slots join and leave between any two steps.
//
// Ownership and threads: a T5Model is immutable after Load; every method may be called from any
// thread concurrently, as long as each T5Cache is used by one thread at a time.
// Errors: bad shapes, dtypes, slots or capacity are INVALID_ARGUMENT and leave the cache as it
// was; libtorch failures become INTERNAL with context (never an abort).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/io/checkpoint.h"
#include "model/llm/llm_model.h"
#include "model/llm/t5_cache.h"
#include "model/llm/t5_config.h"
#include "model/llm/t5_modules.h"

namespace lmeye {

class T5Model {
 public:
  // Loads `dir`: a T5 directory (config.json + weights), or a BLIP-2 one whose text_config is T5
  // (its tensors under "language_model.").
  static absl::StatusOr<std::unique_ptr<T5Model>> Load(const std::string& dir,
                                                       const LlmLoadOptions& options = {});
  // Builds the model of `config` from the tensors of `ckpt` named `prefix` + HF key ("" for a
  // T5 checkpoint, "language_model." inside a BLIP-2 one); tensors outside the prefix are not
  // looked at. Every tensor must be present with its shape and no other may be under the prefix
  // (encoder/decoder.embed_tokens.weight, copies of shared, and a tied lm_head excepted): an
  // INVALID_ARGUMENT listing the offenders otherwise.
  static absl::StatusOr<std::unique_ptr<T5Model>> Load(const T5Config& config,
                                                       const Checkpoint& ckpt,
                                                       const std::string& prefix,
                                                       const LlmLoadOptions& options = {});
  // A model of `config` with random weights reproducible from `seed`, scaled like HF's T5 init
  // (matrices normal(0, fan_in^-0.5), embeddings normal(0, 1), norms 1) so activations keep
  // their size through the layers: for tests and benchmarks of real shapes.
  static absl::StatusOr<std::unique_ptr<T5Model>> CreateRandom(const T5Config& config,
                                                               const LlmLoadOptions& options,
                                                               uint64_t seed);

  const T5Config& config() const { return config_; }
  at::ScalarType dtype() const { return options_.dtype; }
  at::Device device() const { return options_.device; }
  // (HF key, tensor) of every weight, sorted by key. The tensors are the model's own.
  std::vector<std::pair<std::string, at::Tensor>> NamedTensors() const;

  // shared[ids]: [B, T] int64 -> [B, T, d_model] in the compute dtype.
  absl::StatusOr<at::Tensor> EmbedTokens(const at::Tensor& ids) const;

  // The encoder: inputs_embeds [B, T, d_model] (any float dtype), attention_mask [B, T] integer
  // or bool, 1 = real (padding anywhere; undefined: all real) -> [B, T, d_model] after
  // final_layer_norm. Padding positions hold garbage.
  absl::StatusOr<at::Tensor> Encode(const at::Tensor& inputs_embeds,
                                    const at::Tensor& attention_mask = {}) const;

  // The full decoder without a cache: decoder_input_ids [B, T] int64 (starting with
  // decoder_start_token_id), encoder_hidden [B, Te, d_model], encoder_mask [B, Te] (undefined:
  // all real) -> logits [B, T, V].
  absl::StatusOr<at::Tensor> Decode(const at::Tensor& decoder_input_ids,
                                    const at::Tensor& encoder_hidden,
                                    const at::Tensor& encoder_mask = {}) const;

  // A cache of n_slots sequences of up to `capacity` decoder tokens and `encoder_capacity`
  // encoder rows each.
  absl::StatusOr<std::unique_ptr<T5Cache>> NewCache(int n_slots, int capacity,
                                                    int encoder_capacity) const;

  // Row b's encoder output (encoder_hidden [B, Te, d_model], real rows where encoder_mask
  // [B, Te] is nonzero; undefined: all) becomes the cross-attention keys/values of every decoder
  // layer in slot slots[b] (distinct, in use), whose decoder length restarts at 0. Fails without
  // changing the cache if a row has no real position or more than encoder_capacity (or any
  // other argument is wrong); after an INTERNAL error the slots read as not started.
  absl::Status StartDecoding(const at::Tensor& encoder_hidden, const at::Tensor& encoder_mask,
                             T5Cache& cache, const std::vector<int>& slots) const;

  // One decoder token per row: input_ids [B, 1] int64, row b continuing slot slots[b] (distinct,
  // in use, started) at position cache.length(slot), attending its own earlier tokens and its
  // encoder rows. Appends the token to each slot and returns logits [B, V]. Fails without
  // changing the cache if a slot is full.
  absl::StatusOr<at::Tensor> DecodeStep(const at::Tensor& input_ids, T5Cache& cache,
                                        const std::vector<int>& slots) const;

  // lm_head of the decoder output (after final_layer_norm): [.., d_model] -> [.., V].
  at::Tensor Logits(const at::Tensor& hidden) const { return tree_->LmHead(hidden); }

 private:
  T5Model(const T5Config& config, const LlmLoadOptions& options);
  absl::Status Build();
  // InvalidArgument unless `t` is a floating [B, T, d_model] tensor.
  absl::Status CheckHidden(const at::Tensor& t, const char* what) const;
  // The mask as int64 [B, T] on the model's device (ones when undefined), or InvalidArgument.
  absl::StatusOr<at::Tensor> PrepareMask(const at::Tensor& mask, int64_t B, int64_t T,
                                         const char* what) const;
  absl::Status CheckIds(const at::Tensor& ids, const char* what) const;
  absl::Status CheckCache(const T5Cache& cache) const;
  // One decode step's attention over each row's first n_keys cached positions: q [B, 1, H, D],
  // caches [n_slots, H, capacity, D], bias [B, H|1, 1, n_keys] -> [B, 1, H * D].
  at::Tensor AttendCached(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                          const std::vector<int64_t>& slots, const at::Tensor& slots_t,
                          int64_t n_keys, const at::Tensor& bias) const;

  T5Config config_;
  LlmLoadOptions options_;
  T5Tree tree_{nullptr};
};

}  // namespace lmeye
