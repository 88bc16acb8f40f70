// The CLIP text tower (transformers' CLIPTextModel / CLIPTextModelWithProjection), which LMEye's
// IPN uses as its interaction module.
//
// Two entries:
// - token ids: token_embedding + position_embedding, causal encoder, final_layer_norm, EOS
//   pooling (ClipTextConfig::legacy_eos: argmax(ids) for the legacy eos_token_id 2, else the first
//   position holding eos_token_id), text_projection of the pooled vector (text_embeds);
// - caller-provided input embeddings (the IPN interaction, docs/DESIGN.md section 2 step 4):
//   [batch, seq, hidden] rows, optionally plus position_embedding rows 0..seq-1 (adapter.json
//   interaction_positions), causal encoder, final_layer_norm. Without positions this is also
//   "hidden states fed straight to the encoder" (LMEye's reference code).
//
// Module names are the checkpoint keys: `text_model.embeddings.token_embedding.weight`,
// `text_model.embeddings.position_embedding.weight`, `text_model.encoder.layers.N...`,
// `text_model.final_layer_norm.weight`, `text_projection.weight`.
//
// Grad mode: the text entries run in the CALLER's grad mode. The weights are frozen
// (requires_grad false), but IPN training (phase 2) backpropagates through the encoder into
// inputs_embeds; inference callers hold a torch::NoGradGuard / InferenceMode guard themselves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "absl/status/statusor.h"
#include "model/io/checkpoint.h"
#include "model/vision/clip_config.h"
#include "model/vision/clip_encoder.h"
#include "model/vision/clip_weights.h"  // ClipRuntimeOptions

namespace lmeye {

class ClipTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ClipTextEmbeddingsImpl(const ClipTextConfig& config);

  torch::nn::Embedding token_embedding{nullptr};     // [vocab, hidden]
  torch::nn::Embedding position_embedding{nullptr};  // [max_positions, hidden]
};
TORCH_MODULE(ClipTextEmbeddings);

class ClipTextTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipTextTransformerImpl(const ClipTextConfig& config);

  ClipTextEmbeddings embeddings{nullptr};
  ClipEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

// The checkpoint root: `text_model` and, when the checkpoint has it, `text_projection`.
class ClipTextModelImpl : public torch::nn::Module {
 public:
  ClipTextModelImpl(const ClipTextConfig& config, bool with_projection);

  ClipTextTransformer text_model{nullptr};
  torch::nn::Linear text_projection{nullptr};  // null without projection
};
TORCH_MODULE(ClipTextModel);

struct ClipTextForwardOptions {
  // Optional [batch, seq] padding mask (1/true = real token). Without it only the causal mask
  // applies (LMEye calls the text model without one).
  at::Tensor attention_mask;
  // Keep n_layers + 1 hidden states ([0] = embeddings, [i] = output of layer i - 1).
  bool output_hidden_states = false;
};

struct ClipTextOutput {
  std::vector<at::Tensor> hidden_states;  // output_hidden_states only
  at::Tensor last_hidden_state;           // [batch, seq, hidden], after final_layer_norm
  at::Tensor pool_index;                  // [batch] int64: the position pooled from
  at::Tensor pooler_output;               // [batch, hidden] = last_hidden_state[b, pool_index[b]]
  at::Tensor text_embeds;                 // [batch, projection_dim]; undefined w/o projection
};

// A loaded, frozen text tower on one device. Methods are const and keep no state between calls;
// one thread (the engine's) uses a tower at a time.
class ClipTextTower {
 public:
  // `dir` holds config.json (CLIPTextConfig or a full CLIPConfig) and the weights.
  // text_projection is loaded when the checkpoint has it. Errors: not a CLIP config with a text
  // tower, missing / mis-shaped / unexpected tensors.
  static absl::StatusOr<std::unique_ptr<ClipTextTower>> Load(
      const std::string& dir, const ClipRuntimeOptions& options = {});
  static absl::StatusOr<std::unique_ptr<ClipTextTower>> Load(
      const ClipConfig& config, const Checkpoint& ckpt, const ClipRuntimeOptions& options = {});

  const ClipTextConfig& config() const { return config_; }
  int64_t hidden_size() const { return config_.encoder.hidden_size; }
  bool has_projection() const { return !model_->text_projection.is_empty(); }
  at::ScalarType dtype() const { return options_.dtype; }
  const at::Device& device() const { return options_.device; }
  // The EOS word id (ClipTextConfig::eos_word_id: vocab_size - 1 for legacy configs).
  int64_t eos_word_id() const { return config_.eos_word_id(); }

  // input_ids: [batch, seq] integer ids in [0, vocab), seq <= max_position_embeddings.
  absl::StatusOr<ClipTextOutput> ForwardIds(const at::Tensor& input_ids,
                                            const ClipTextForwardOptions& options = {}) const;

  // The IPN interaction. inputs_embeds: [batch, seq, hidden] (any floating dtype / device;
  // converted to the tower's, differentiably). add_positions: add position_embedding rows
  // 0..seq-1 first (then seq <= max_position_embeddings). Causal mask, no padding mask.
  // Returns final_layer_norm(encoder output): [batch, seq, hidden]. When `hidden_states` is
  // non-null it receives the encoder's n_layers + 1 hidden states (before the final norm).
  absl::StatusOr<at::Tensor> ForwardEmbeds(const at::Tensor& inputs_embeds, bool add_positions,
                                           std::vector<at::Tensor>* hidden_states = nullptr) const;

  // text_projection over the last dimension: [..., hidden] -> [..., projection_dim].
  // FAILED_PRECONDITION without projection.
  absl::StatusOr<at::Tensor> Project(const at::Tensor& hidden) const;

  // Token embedding rows: ids [...] -> [..., hidden] (E_t[ids]).
  absl::StatusOr<at::Tensor> TokenEmbeddings(const at::Tensor& ids) const;
  // E_t[eos_word_id()]: [hidden], the IPN's last interaction slot. A view of the frozen weight:
  // clone before modifying in place.
  at::Tensor EosWordEmbedding() const;
  // The whole position table P_t: [max_position_embeddings, hidden] (a frozen weight; do not
  // modify).
  at::Tensor PositionEmbeddings() const;

  // The position each row is pooled from under the config's EOS rule: [batch] int64.
  // Legacy: the first position of the highest id; otherwise the first position of
  // eos_token_id (0 when a row has none, as transformers).
  at::Tensor PoolIndex(const at::Tensor& input_ids) const;

  ClipTextModel& module() { return model_; }

 private:
  ClipTextTower(const ClipTextConfig& config, const ClipRuntimeOptions& options,
                bool with_projection);
  // The tower is logically const; libtorch's forward is not.
  ClipTextModelImpl& model() const { return *model_.ptr(); }
  // [batch, seq, hidden] embeddings -> final_layer_norm(encoder) with the causal mask and the
  // optional [batch, seq] padding mask.
  at::Tensor Encode(const at::Tensor& embeddings, const at::Tensor& attention_mask,
                    std::vector<at::Tensor>* hidden_states) const;

  ClipTextConfig config_;
  ClipRuntimeOptions options_;
  ClipTextModel model_;
};

}  // namespace lmeye
