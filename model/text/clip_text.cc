#include "model/text/clip_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/vision/clip_weights.h"

namespace lmeye {
namespace {

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  return absl::StrCat("[", absl::StrJoin(t.sizes().vec(), ", "), "] ",
                      c10::toString(t.scalar_type()));
}

bool IsIntegral(const at::Tensor& t) {
  return at::isIntegralType(t.scalar_type(), /*includeBool=*/false);
}

}  // namespace

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& config) {
  const int64_t d = config.encoder.hidden_size;
  token_embedding = register_module("token_embedding", torch::nn::Embedding(config.vocab_size, d));
  position_embedding = register_module("position_embedding",
                                       torch::nn::Embedding(config.max_position_embeddings, d));
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& config) {
  embeddings = register_module("embeddings", ClipTextEmbeddings(config));
  encoder = register_module("encoder", ClipEncoder(config.encoder));
  final_layer_norm =
      register_module("final_layer_norm",
                      torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.encoder.hidden_size})
                                               .eps(config.encoder.layer_norm_eps)));
}

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& config, bool with_projection) {
  text_model = register_module("text_model", ClipTextTransformer(config));
  if (with_projection) {
    text_projection = register_module(
        "text_projection", torch::nn::Linear(torch::nn::LinearOptions(config.encoder.hidden_size,
                                                                      config.projection_dim)
                                                 .bias(false)));
  }
}

ClipTextTower::ClipTextTower(const ClipTextConfig& config, const ClipRuntimeOptions& options,
                             bool with_projection)
    : config_(config), options_(options), model_(config, with_projection) {
  model_->eval();
  model_->to(options.device);
}

absl::StatusOr<std::unique_ptr<ClipTextTower>> ClipTextTower::Load(
    const std::string& dir, const ClipRuntimeOptions& options) {
  return LoadClipTowerDir<ClipTextTower>(dir, options);
}

absl::StatusOr<std::unique_ptr<ClipTextTower>> ClipTextTower::Load(
    const ClipConfig& config, const Checkpoint& ckpt, const ClipRuntimeOptions& options) {
  return LoadClipTower<ClipTextTower>(
      kClipTextKind, config.text.has_value(), ckpt, options,
      [&](bool with_projection) {
        return std::unique_ptr<ClipTextTower>(
            new ClipTextTower(*config.text, options, with_projection));
      },
      [](ClipTextTower& tower) -> torch::nn::Module& { return *tower.model_; });
}

at::Tensor ClipTextTower::Encode(const at::Tensor& embeddings, const at::Tensor& attention_mask,
                                 std::vector<at::Tensor>* hidden_states) const {
  const int64_t batch = embeddings.size(0);
  const int64_t seq = embeddings.size(1);
  at::Tensor allowed = ClipCausalMask(seq, options_.device);  // [1, 1, seq, seq]
  if (attention_mask.defined()) {
    // Keys that are padding are hidden from every query.
    allowed = allowed & attention_mask.to(options_.device, at::kBool).view({batch, 1, 1, seq});
  }
  ClipTextTransformerImpl& tm = *model().text_model;
  at::Tensor h = tm.encoder(embeddings, allowed, hidden_states);
  return tm.final_layer_norm(h);  // [batch, seq, hidden]
}

at::Tensor ClipTextTower::PoolIndex(const at::Tensor& input_ids) const {
  at::Tensor ids = input_ids.to(at::kLong);
  if (config_.legacy_eos()) return ids.argmax(-1);  // first position of the highest id
  // argmax of a 0/1 row is its first 1 (0 if none, as transformers).
  return ids.eq(config_.eos_token_id).to(at::kInt).argmax(-1);
}

absl::StatusOr<ClipTextOutput> ClipTextTower::ForwardIds(
    const at::Tensor& input_ids, const ClipTextForwardOptions& options) const {
  if (!input_ids.defined() || input_ids.dim() != 2 || !IsIntegral(input_ids) ||
      input_ids.size(1) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP text tower: input_ids must be an integer [batch, seq] tensor, got ",
                     Describe(input_ids)));
  }
  const int64_t batch = input_ids.size(0);
  const int64_t seq = input_ids.size(1);
  if (seq > config_.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("CLIP text tower: ", seq,
                                                   " tokens exceed max_position_embeddings ",
                                                   config_.max_position_embeddings));
  }
  if (options.attention_mask.defined() && options.attention_mask.sizes() != input_ids.sizes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP text tower: attention_mask ", Describe(options.attention_mask),
                     " must have the shape of input_ids ", Describe(input_ids)));
  }
  return GuardTorch("CLIP text tower forward", [&]() -> absl::StatusOr<ClipTextOutput> {
    at::Tensor ids = input_ids.to(options_.device, at::kLong);
    if (batch > 0) {
      int64_t lo = ids.min().item<int64_t>();
      int64_t hi = ids.max().item<int64_t>();
      if (lo < 0 || hi >= config_.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("CLIP text tower: token id ", lo < 0 ? lo : hi,
                         " is outside the vocabulary [0, ", config_.vocab_size, ")"));
      }
    }
    ClipTextEmbeddingsImpl& emb = *model().text_model->embeddings;
    // [batch, seq, hidden]
    at::Tensor x =
        emb.token_embedding(ids) + emb.position_embedding->weight.slice(0, 0, seq).unsqueeze(0);
    ClipTextOutput out;
    out.last_hidden_state = Encode(x, options.attention_mask,
                                   options.output_hidden_states ? &out.hidden_states : nullptr);
    out.pool_index = PoolIndex(ids);
    at::Tensor rows = at::arange(batch, ids.options());
    out.pooler_output = out.last_hidden_state.index({rows, out.pool_index});  // [batch, hidden]
    if (has_projection()) out.text_embeds = model().text_projection(out.pooler_output);
    return out;
  });
}

absl::StatusOr<at::Tensor> ClipTextTower::ForwardEmbeds(
    const at::Tensor& inputs_embeds, bool add_positions,
    std::vector<at::Tensor>* hidden_states) const {
  if (!inputs_embeds.defined() || inputs_embeds.dim() != 3 ||
      inputs_embeds.size(2) != hidden_size() || inputs_embeds.size(1) == 0 ||
      !at::isFloatingType(inputs_embeds.scalar_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP text tower: inputs_embeds must be a floating-point [batch, seq, ",
                     hidden_size(), "] tensor, got ", Describe(inputs_embeds)));
  }
  const int64_t seq = inputs_embeds.size(1);
  if (add_positions && seq > config_.max_position_embeddings) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP text tower: ", seq, " embedding rows exceed max_position_embeddings ",
                     config_.max_position_embeddings));
  }
  return GuardTorch(
      "CLIP text tower forward (input embeddings)", [&]() -> absl::StatusOr<at::Tensor> {
        at::Tensor x = inputs_embeds.to(options_.device, options_.dtype);  // [batch, seq, hidden]
        if (add_positions) {
          x = x +
              model().text_model->embeddings->position_embedding->weight.slice(0, 0, seq).unsqueeze(
                  0);
        }
        return Encode(x, at::Tensor(), hidden_states);
      });
}

absl::StatusOr<at::Tensor> ClipTextTower::Project(const at::Tensor& hidden) const {
  if (!has_projection()) {
    return absl::FailedPreconditionError(
        "CLIP text tower: the checkpoint has no text_projection.weight");
  }
  if (!hidden.defined() || hidden.dim() < 1 || hidden.size(-1) != hidden_size()) {
    return absl::InvalidArgumentError(absl::StrCat("CLIP text tower: Project expects [..., ",
                                                   hidden_size(), "], got ", Describe(hidden)));
  }
  return GuardTorch("CLIP text projection", [&]() -> absl::StatusOr<at::Tensor> {
    return model().text_projection(hidden.to(options_.device, options_.dtype));
  });
}

absl::StatusOr<at::Tensor> ClipTextTower::TokenEmbeddings(const at::Tensor& ids) const {
  if (!ids.defined() || !IsIntegral(ids)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP text tower: token ids must be an integer tensor, got ", Describe(ids)));
  }
  return GuardTorch("CLIP token embeddings", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor t = ids.to(options_.device, at::kLong);
    if (t.numel() > 0 &&
        (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= config_.vocab_size)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CLIP text tower: token ids outside the vocabulary [0, ", config_.vocab_size, ")"));
    }
    return model().text_model->embeddings->token_embedding(t);
  });
}

at::Tensor ClipTextTower::EosWordEmbedding() const {
  return model().text_model->embeddings->token_embedding->weight[eos_word_id()];
}

at::Tensor ClipTextTower::PositionEmbeddings() const {
  return model().text_model->embeddings->position_embedding->weight;
}

}  // namespace lmeye
