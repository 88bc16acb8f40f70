// A decoder-only causal LM (OPT, BLOOM, LLaMA) loaded from a Hugging Face checkpoint directory:
// one generic decoder driven by the family tables (llm_arch.h), numerically equal to
// transformers v4.35 in float32.
//
// Two ways to run it:
// - Forward: a padded batch, no cache, exactly HF's `model(input_ids | inputs_embeds,
//   attention_mask, position_ids)`. Differentiable with respect to inputs_embeds when the caller
//   has grad mode on (IPN training); inference callers hold a torch::NoGradGuard. With
//   LlmInput::past it continues the positions of an earlier Forward (LlmOutput::present), still
//   differentiable in its own positions: the instruct stage runs the prompt once without grad.
// - Step: the engine's call. Appends each row's real tokens to that sequence's KV cache slot
//   and returns their outputs. With empty slots it is a prefill; with one token per row a decode
//   step over sequences of different lengths; after KvCache::Truncate(slot, P) it recomputes
//   from position P (the IPN second pass: one <img-d> position reusing the first pass). Rows are
//   independent: any set of in-use slots, in any order, may form a batch (continuous batching).
//   Gives the same logits as Forward over the whole sequence (tested to 1e-5).
//
// The IPN engine's use, for a batch of requests (slots from one KvCache owned by the scheduler):
//   first pass   Step({inputs_embeds = [E[P], h_img, E[X], imgd] right-padded, attention_mask},
//                     cache, slots, {LogitsAt::kNone})  -> last_token_state = h_r  [B, embed_dim]
//   second pass  cache.Truncate(slot_b, len_b - 1) for each row; then
//                Step({inputs_embeds = slot embeddings [B, 1, embed_dim]}, cache, slots,
//                     {LogitsAt::kLast})                -> logits of the first new token [B, V]
//   decode       Step({input_ids = [B, 1]}, cache, running_slots, {LogitsAt::kLast}) per step;
//                sequences Allocate/Release their slots between any two steps.
//
// Ownership and threads: an LlmModel is immutable after Load; Forward/Step/EmbedTokens may be
// called from any thread, concurrently, as long as each KvCache is used by one thread at a time.
// Errors: bad shapes, dtypes or slots are INVALID_ARGUMENT; libtorch failures become INTERNAL
// with context (never an abort).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/io/checkpoint.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_config.h"
#include "model/llm/llm_modules.h"

namespace lmeye {

struct LlmLoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype: float32, bfloat16 or float16
  at::Device device = at::kCPU;
  // Weight-only int8 (int8_weight.h, CPU only): after loading, every linear layer's weight and
  // the LM head are quantized (GGUF Q8_0 numbers) and the dense copies released; activations,
  // norms, biases, embeddings and the KV cache stay in `dtype`.
  bool int8_weights = false;
};

// Every layer's keys and values of a batch's earlier positions, as one Forward left them
// (LlmOutputOptions::present) for a later Forward to continue (LlmInput::past) without a KV
// cache and with autograd: a prefix that no trained tensor reaches runs once, without grad,
// and only the positions after it are differentiated (the IPN instruct stage).
struct LlmPast {
  std::vector<at::Tensor> keys, values;  // n_layers x [B, Hkv, P, head_dim], compute dtype
  at::Tensor mask;                       // [B, P] int64: the real positions
  at::Tensor positions;                  // [B, P] int64: their positions (padding: any)
};

// One batch. Exactly one of input_ids / inputs_embeds.
struct LlmInput {
  at::Tensor input_ids;      // [B, T] int64
  at::Tensor inputs_embeds;  // [B, T, embed_dim], any float dtype (converted to the model's)
  // [B, T] integer or bool, 1 = real token, 0 = padding (left, right or anywhere). Undefined:
  // all real.
  at::Tensor attention_mask;
  // [B, T] int64, Forward only. Undefined: from the mask, position = number of real tokens
  // before (HF generate's cumsum(mask) - 1), i.e. padding does not shift positions. Pass
  // arange(T) to reproduce HF LLaMA's forward() without position_ids, which ignores the mask.
  at::Tensor position_ids;
  // Forward only, position_ids undefined: the rows continue these earlier positions (same B).
  // Each row's tokens attend its real past positions and then its own causally; its positions
  // count on from the number of real past positions. The same outputs as one Forward over the
  // concatenation (tested to 1e-5).
  const LlmPast* past = nullptr;
};

enum class LogitsAt {
  kNone,  // no lm_head (e.g. the IPN first pass only needs hidden states)
  kAll,   // [B, T, V]
  kLast,  // [B, V] at each row's last real token (generation)
};

struct LlmOutputOptions {
  LogitsAt logits = LogitsAt::kAll;
  bool hidden_states = false;  // fill LlmOutput::hidden_states (costs memory)
  bool pre_norm = false;       // fill LlmOutput::pre_norm_hidden
  bool present = false;        // Forward only: fill LlmOutput::present with this call's positions
};

struct LlmOutput {
  at::Tensor logits;  // see LogitsAt; compute dtype
  // [B, T, embed_dim]: last layer after the final norm (and OPT's project_out): what lm_head
  // reads, and what the IPN takes at the <img-d> position. Padding positions hold garbage.
  at::Tensor last_hidden_state;
  // [B, embed_dim]: last_hidden_state at each row's last real token (the IPN's h_r when the
  // prompt ends with the <img-d> slot).
  at::Tensor last_token_state;
  // LlmOutputOptions::pre_norm: the last layer's output before the final norm (and OPT's
  // project_out), [B, T, hidden]; padding positions hold garbage. The released LMEye v0's
  // first pass may read this (docs/LINGCLOUD.md ambiguity 1).
  at::Tensor pre_norm_hidden;
  // HF output_hidden_states: n_layers + 1 tensors [B, T, hidden]: the embedding output, the
  // output of each layer but the last, then last_hidden_state.
  std::vector<at::Tensor> hidden_states;
  // LlmOutputOptions::present: this call's own positions (not the past it continued), for
  // LlmInput::past of a later call.
  LlmPast present;
};

class LlmModel {
 public:
  // Loads `dir` (config.json + model.safetensors or a sharded index).
  static absl::StatusOr<std::unique_ptr<LlmModel>> Load(const std::string& dir,
                                                        const LlmLoadOptions& options = {});
  // Builds the model of `config` and loads it from `ckpt`. Every tensor the family table names
  // must be present with the right shape and nothing else may be (tied lm_head and recomputed
  // buffers excepted): a clear INVALID_ARGUMENT listing the offenders otherwise.
  static absl::StatusOr<std::unique_ptr<LlmModel>> Load(const LlmConfig& config,
                                                        const Checkpoint& ckpt,
                                                        const LlmLoadOptions& options = {});

  // A model of `config` with transformers-style random weights (normal(0, 0.02) matrices and
  // embeddings, zero biases, unit norm weights), reproducible from `seed`: for tests and for
  // `lmeye init-model` / benchmarks of real shapes without downloading weights.
  static absl::StatusOr<std::unique_ptr<LlmModel>> CreateRandom(const LlmConfig& config,
                                                                const LlmLoadOptions& options,
                                                                uint64_t seed);

  const LlmConfig& config() const { return config_; }
  at::ScalarType dtype() const { return options_.dtype; }
  at::Device device() const { return options_.device; }
  bool int8_weights() const { return options_.int8_weights; }
  // Checkpoint names of every tensor the model reads (sorted).
  std::vector<std::string> TensorNames() const;
  // (checkpoint name, tensor) of every weight, sorted by name: what WriteSafetensors needs to
  // save the model in Hugging Face layout. The tensors are the model's own (do not modify). With
  // int8_weights the quantized weights are empty tensors: such a model is not saved.
  std::vector<std::pair<std::string, at::Tensor>> NamedTensors() const;

  // E[ids]: [B, T] int64 -> [B, T, embed_dim] in the compute dtype.
  absl::StatusOr<at::Tensor> EmbedTokens(const at::Tensor& ids) const;

  // Full forward of a padded batch without a cache.
  absl::StatusOr<LlmOutput> Forward(const LlmInput& input,
                                    const LlmOutputOptions& options = {}) const;

  // A KV cache for this model: n_slots sequences of up to `capacity` positions each.
  absl::StatusOr<std::unique_ptr<KvCache>> NewCache(int n_slots, int capacity) const;

  // Row b of `input` continues the sequence in slot slots[b] (distinct, in use): its real
  // tokens (mask 1; padding anywhere is skipped and not stored) get positions
  // cache.length(slot) + 0, 1, ..., attend to the cached positions and to each other causally,
  // and are appended to the slot. input.position_ids must be undefined. Fails without changing
  // the cache if a slot would exceed its capacity. Runs under NoGradGuard.
  // Fastest when `slots` is a contiguous ascending range (see kv_cache.h).
  absl::StatusOr<LlmOutput> Step(const LlmInput& input, KvCache& cache,
                                 const std::vector<int>& slots,
                                 const LlmOutputOptions& options = {}) const;

  // lm_head: [.., embed_dim] -> [.., V].
  at::Tensor Logits(const at::Tensor& hidden) const { return module_->LmHead(hidden); }

 private:
  LlmModel(const LlmConfig& config, const LlmLoadOptions& options);
  // Builds the (uninitialised) module tree with the decoder under `base`.
  absl::Status Build(const std::string& base);
  // Quantizes the loaded weights when options_.int8_weights.
  absl::Status QuantizeIfAsked();

  // Checks `input` and returns its embeddings [B, T, embed_dim] and mask [B, T] (int64).
  absl::Status Prepare(const LlmInput& input, at::Tensor* embeds, at::Tensor* mask) const;
  // InvalidArgument unless `past` fits this model and a batch of B rows without position_ids.
  absl::Status CheckPast(const LlmPast& past, const LlmInput& input, int64_t B) const;
  // Logits and hidden states from the decoder output per `options`.
  LlmOutput Finish(at::Tensor last, std::vector<at::Tensor> hidden, const at::Tensor& mask,
                   const LlmOutputOptions& options) const;

  LlmConfig config_;
  LlmLoadOptions options_;
  CausalLm module_{nullptr};
  at::Tensor alibi_slopes_;   // float32 [H] (BLOOM)
  at::Tensor rope_inv_freq_;  // float32 [head_dim / 2] (LLaMA)
};

}  // namespace lmeye
