#include "model/llm/t5_model.h"

#include <algorithm>
#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/module_loader.h"
#include "model/llm/decode_attention.h"

namespace lmeye {
namespace {

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// [T, T] key position - query position.
at::Tensor RelativePositions(int64_t T, at::Device device) {
  at::Tensor pos = at::arange(T, at::TensorOptions().dtype(at::kLong).device(device));
  return pos.unsqueeze(0) - pos.unsqueeze(1);
}

}  // namespace

T5Model::T5Model(const T5Config& config, const LlmLoadOptions& options)
    : config_(config), options_(options) {}

absl::StatusOr<std::unique_ptr<T5Model>> T5Model::Load(const std::string& dir,
                                                       const LlmLoadOptions& options) {
  std::string prefix;
  LMEYE_ASSIGN_OR_RETURN(T5Config config, LoadT5Config(dir, &prefix));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));
  return Load(config, *ckpt, prefix, options);
}

absl::StatusOr<std::unique_ptr<T5Model>> T5Model::Load(const T5Config& config,
                                                       const Checkpoint& ckpt,
                                                       const std::string& prefix,
                                                       const LlmLoadOptions& options) {
  auto model = std::unique_ptr<T5Model>(new T5Model(config, options));
  LMEYE_RETURN_IF_ERROR(model->Build());
  LoadOptions load;
  load.prefix = prefix;
  load.dtype = options.dtype;
  load.strict_extra = true;
  // transformers saves the stacks' embed_tokens (the shared table) in some checkpoints.
  load.ignore_extra = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"};
  if (config.tie_word_embeddings) load.ignore_extra.push_back("lm_head.weight");
  absl::Status status = LoadModuleWeights(*model->tree_, ckpt, load);
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("loading T5 from ", ckpt.location(), " (prefix \"", prefix,
                                     "\"): ", status.message()));
  }
  return model;
}

absl::Status T5Model::Build() {
  if (options_.dtype != at::kFloat && options_.dtype != at::kBFloat16 &&
      options_.dtype != at::kHalf) {
    return absl::InvalidArgumentError("T5 compute dtype must be float32, bfloat16 or float16");
  }
  return GuardTorch("building T5", [&]() -> absl::Status {
    tree_ = T5Tree(config_, at::TensorOptions().dtype(options_.dtype).device(options_.device));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<T5Model>> T5Model::CreateRandom(const T5Config& config,
                                                               const LlmLoadOptions& options,
                                                               uint64_t seed) {
  auto model = std::unique_ptr<T5Model>(new T5Model(config, options));
  LMEYE_RETURN_IF_ERROR(model->Build());
  LMEYE_RETURN_IF_ERROR(GuardTorch("initialising T5", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    at::Generator gen = at::detail::createCPUGenerator(seed);
    for (auto& item : model->tree_->named_parameters(/*recurse=*/true)) {
      const std::string& name = item.key();
      at::Tensor& p = item.value();
      if (p.dim() == 1) {
        p.fill_(1.0);  // norm weights
      } else if (name == "shared.weight") {
        p.copy_(at::normal(0.0, 1.0, p.sizes(), gen));
      } else if (name.find("relative_attention_bias") != std::string::npos) {
        p.copy_(at::normal(0.0, std::pow(double(config.d_model), -0.5), p.sizes(), gen));
      } else {
        p.copy_(at::normal(0.0, std::pow(double(p.size(1)), -0.5), p.sizes(), gen));
      }
    }
    return absl::OkStatus();
  }));
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> T5Model::NamedTensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : tree_->named_parameters(/*recurse=*/true)) {
    out.emplace_back(p.key(), p.value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

absl::Status T5Model::CheckIds(const at::Tensor& ids, const char* what) const {
  if (!ids.defined() || ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0 ||
      !at::isIntegralType(ids.scalar_type(), /*includeBool=*/false)) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5: ", what, " must be a non-empty integer [B, T] tensor, got ",
                     ids.defined() ? Shape(ids) : "undefined"));
  }
  return GuardTorch("T5 ids", [&]() -> absl::Status {
    if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config_.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("T5: ", what, " has ids outside [0, ", config_.vocab_size, ")"));
    }
    return absl::OkStatus();
  });
}

absl::Status T5Model::CheckHidden(const at::Tensor& t, const char* what) const {
  if (!t.defined() || t.dim() != 3 || t.size(0) == 0 || t.size(1) == 0 ||
      t.size(2) != config_.d_model || !at::isFloatingType(t.scalar_type())) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5: ", what, " must be a non-empty floating [B, T, ", config_.d_model,
                     "] tensor, got ", t.defined() ? Shape(t) : "undefined"));
  }
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> T5Model::PrepareMask(const at::Tensor& mask, int64_t B, int64_t T,
                                                const char* what) const {
  return GuardTorch("T5 mask", [&]() -> absl::StatusOr<at::Tensor> {
    auto options = at::TensorOptions().dtype(at::kLong).device(options_.device);
    if (!mask.defined()) return at::ones({B, T}, options);
    if (mask.dim() != 2 || mask.size(0) != B || mask.size(1) != T ||
        at::isFloatingType(mask.scalar_type()) || at::isComplexType(mask.scalar_type())) {
      return absl::InvalidArgumentError(absl::StrCat("T5: ", what, " must be an integer or bool [",
                                                     B, ", ", T, "] tensor, got ", Shape(mask)));
    }
    return (mask.to(options) != 0).to(at::kLong);
  });
}

absl::StatusOr<at::Tensor> T5Model::EmbedTokens(const at::Tensor& ids) const {
  LMEYE_RETURN_IF_ERROR(CheckIds(ids, "ids"));
  return GuardTorch("T5 EmbedTokens", [&]() -> absl::StatusOr<at::Tensor> {
    return tree_->Embed(ids.to(options_.device, at::kLong));
  });
}

absl::StatusOr<at::Tensor> T5Model::Encode(const at::Tensor& inputs_embeds,
                                           const at::Tensor& attention_mask) const {
  LMEYE_RETURN_IF_ERROR(CheckHidden(inputs_embeds, "inputs_embeds"));
  const int64_t B = inputs_embeds.size(0), T = inputs_embeds.size(1);
  LMEYE_ASSIGN_OR_RETURN(at::Tensor mask, PrepareMask(attention_mask, B, T, "attention_mask"));
  return GuardTorch("T5 Encode", [&]() -> absl::StatusOr<at::Tensor> {
    const T5Stack& encoder = tree_->encoder();
    // [1, H, T, T] bidirectional position bias + [B, 1, 1, T] padding mask, shared by all blocks.
    at::Tensor bias = encoder->PositionBias(RelativePositions(T, options_.device))
                          .permute({2, 0, 1})
                          .unsqueeze(0) +
                      T5MaskBias(mask, options_.dtype).view({B, 1, 1, T});
    at::Tensor x = inputs_embeds.to(options_.device, options_.dtype);
    for (int64_t i = 0; i < encoder->n_blocks(); ++i) x = encoder->block(i)->forward(x, bias);
    return encoder->FinalNorm(x);
  });
}

absl::StatusOr<at::Tensor> T5Model::Decode(const at::Tensor& decoder_input_ids,
                                           const at::Tensor& encoder_hidden,
                                           const at::Tensor& encoder_mask) const {
  LMEYE_RETURN_IF_ERROR(CheckIds(decoder_input_ids, "decoder_input_ids"));
  LMEYE_RETURN_IF_ERROR(CheckHidden(encoder_hidden, "encoder_hidden"));
  const int64_t B = decoder_input_ids.size(0), T = decoder_input_ids.size(1);
  const int64_t Te = encoder_hidden.size(1);
  if (encoder_hidden.size(0) != B) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 Decode: encoder_hidden ", Shape(encoder_hidden), " has not ", B, " rows"));
  }
  LMEYE_ASSIGN_OR_RETURN(at::Tensor mask, PrepareMask(encoder_mask, B, Te, "encoder_mask"));
  return GuardTorch("T5 Decode", [&]() -> absl::StatusOr<at::Tensor> {
    const T5Stack& decoder = tree_->decoder();
    at::Tensor relative = RelativePositions(T, options_.device);
    // [1, H, T, T] causal position bias + causal mask; [B, 1, 1, Te] encoder mask.
    at::Tensor self_bias = decoder->PositionBias(relative).permute({2, 0, 1}).unsqueeze(0) +
                           T5MaskBias(relative <= 0, options_.dtype).unsqueeze(0).unsqueeze(0);
    at::Tensor cross_bias = T5MaskBias(mask, options_.dtype).view({B, 1, 1, Te});
    at::Tensor encoder = encoder_hidden.to(options_.device, options_.dtype);
    at::Tensor x = tree_->Embed(decoder_input_ids.to(options_.device, at::kLong));
    for (int64_t i = 0; i < decoder->n_blocks(); ++i) {
      x = decoder->block(i)->forward(x, self_bias, encoder, cross_bias);
    }
    return tree_->LmHead(decoder->FinalNorm(x));
  });
}

absl::StatusOr<std::unique_ptr<T5Cache>> T5Model::NewCache(int n_slots, int capacity,
                                                           int encoder_capacity) const {
  return T5Cache::Create(config_, n_slots, capacity, encoder_capacity, options_.dtype,
                         options_.device);
}

absl::Status T5Model::CheckCache(const T5Cache& cache) const {
  if (cache.n_layers() != config_.n_decoder_layers || cache.dtype() != options_.dtype ||
      cache.device() != options_.device) {
    return absl::InvalidArgumentError("T5: the cache was not made by this model's NewCache");
  }
  return absl::OkStatus();
}

absl::Status T5Model::StartDecoding(const at::Tensor& encoder_hidden,
                                    const at::Tensor& encoder_mask, T5Cache& cache,
                                    const std::vector<int>& slots) const {
  LMEYE_RETURN_IF_ERROR(CheckCache(cache));
  LMEYE_RETURN_IF_ERROR(CheckHidden(encoder_hidden, "encoder_hidden"));
  const int64_t B = encoder_hidden.size(0), Te = encoder_hidden.size(1);
  if (static_cast<int64_t>(slots.size()) != B) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 StartDecoding: ", slots.size(), " slots for ", B, " encoder rows"));
  }
  LMEYE_RETURN_IF_ERROR(cache.CheckSlots(slots));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor mask, PrepareMask(encoder_mask, B, Te, "encoder_mask"));
  // Real rows per request: checked before anything is written.
  std::vector<int64_t> lengths;
  LMEYE_RETURN_IF_ERROR(GuardTorch("T5 StartDecoding", [&]() -> absl::Status {
    at::Tensor n = mask.sum(1).cpu();
    lengths.assign(n.data_ptr<int64_t>(), n.data_ptr<int64_t>() + B);
    return absl::OkStatus();
  }));
  for (int64_t b = 0; b < B; ++b) {
    if (lengths[b] < 1 || lengths[b] > cache.encoder_capacity()) {
      return absl::InvalidArgumentError(
          absl::StrCat("T5 StartDecoding: row ", b, " has ", lengths[b],
                       " encoder positions; the cache takes 1 to ", cache.encoder_capacity()));
    }
  }
  // From here the slots restart: should libtorch fail midway, they read as not started (DecodeStep
  // refuses them) rather than holding a mix of old and new keys.
  for (int s : slots) {
    cache.SetEncoderLength(s, 0);
    cache.SetLength(s, 0);
  }
  return GuardTorch("T5 StartDecoding", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    at::Tensor encoder = encoder_hidden.to(options_.device, options_.dtype);
    // Each row's real positions in order: its cross keys are stored compacted, so a slot does
    // not depend on how its request was padded in the batch.
    std::vector<at::Tensor> rows;
    for (int64_t b = 0; b < B; ++b) rows.push_back(mask[b].nonzero().squeeze(1));
    const T5Stack& decoder = tree_->decoder();
    for (int64_t l = 0; l < decoder->n_blocks(); ++l) {
      std::vector<at::Tensor> kv = decoder->block(l)->cross_attention()->KeyValue(encoder);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t n = lengths[b];
        // [Te, H, D] -> real rows [n, H, D] -> [H, n, D]
        cache.cross_keys(l)[slots[b]].narrow(1, 0, n).copy_(
            kv[0][b].index_select(0, rows[b]).transpose(0, 1));
        cache.cross_values(l)[slots[b]].narrow(1, 0, n).copy_(
            kv[1][b].index_select(0, rows[b]).transpose(0, 1));
      }
    }
    for (int64_t b = 0; b < B; ++b) cache.SetEncoderLength(slots[b], static_cast<int>(lengths[b]));
    return absl::OkStatus();
  });
}

at::Tensor T5Model::AttendCached(const at::Tensor& q, const at::Tensor& k_cache,
                                 const at::Tensor& v_cache, const std::vector<int64_t>& slots,
                                 const at::Tensor& slots_t, int64_t n_keys,
                                 const at::Tensor& bias) const {
  const int64_t B = q.size(0), H = q.size(2);
  if (DecodeAttentionSupported(q, k_cache, v_cache)) {
    // Reads each row's slot in place (decode_attention.h); no scaling of q.k in T5.
    at::Tensor score_bias = bias.expand({B, H, 1, n_keys}).reshape({B * H, 1, n_keys});
    return DecodeAttention(q, k_cache, v_cache, slots, score_bias.contiguous(), n_keys,
                           /*alpha=*/1.0);
  }
  at::Tensor k = k_cache.index_select(0, slots_t).narrow(2, 0, n_keys);  // [B, H, n, D]
  at::Tensor v = v_cache.index_select(0, slots_t).narrow(2, 0, n_keys);
  return T5Attend(q.transpose(1, 2), k, v, bias);
}

absl::StatusOr<at::Tensor> T5Model::DecodeStep(const at::Tensor& input_ids, T5Cache& cache,
                                               const std::vector<int>& slots) const {
  LMEYE_RETURN_IF_ERROR(CheckCache(cache));
  LMEYE_RETURN_IF_ERROR(CheckIds(input_ids, "input_ids"));
  const int64_t B = input_ids.size(0);
  if (input_ids.size(1) != 1 || static_cast<int64_t>(slots.size()) != B) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 DecodeStep: input_ids must be [B, 1] with one slot per row, got ",
                     Shape(input_ids), " and ", slots.size(), " slots"));
  }
  LMEYE_RETURN_IF_ERROR(cache.CheckSlots(slots));
  std::vector<int64_t> slot_list, positions, encoder_lengths;
  int64_t n_self = 0, n_cross = 0;
  for (int s : slots) {
    if (cache.encoder_length(s) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("T5 DecodeStep: slot ", s, " has no encoder output (StartDecoding)"));
    }
    if (cache.length(s) >= cache.capacity()) {
      return absl::InvalidArgumentError(absl::StrCat("T5 DecodeStep: slot ", s, " is full (",
                                                     cache.capacity(), " decoder positions)"));
    }
    slot_list.push_back(s);
    positions.push_back(cache.length(s));
    encoder_lengths.push_back(cache.encoder_length(s));
    n_self = std::max(n_self, positions.back() + 1);
    n_cross = std::max(n_cross, encoder_lengths.back());
  }
  return GuardTorch("T5 DecodeStep", [&]() -> absl::StatusOr<at::Tensor> {
    torch::NoGradGuard no_grad;
    const at::ScalarType dtype = options_.dtype;
    auto long_options = at::TensorOptions().dtype(at::kLong).device(options_.device);
    at::Tensor slots_t = at::tensor(slot_list, at::kLong).to(options_.device);
    at::Tensor pos_t = at::tensor(positions, at::kLong).to(options_.device);
    at::Tensor enc_t = at::tensor(encoder_lengths, at::kLong).to(options_.device);
    const T5Stack& decoder = tree_->decoder();
    // Each row's query sits at its own position: key j - position, [B, n_self]; keys after
    // the query (other rows' longer sequences) are masked along with the causal future.
    at::Tensor relative = at::arange(n_self, long_options).unsqueeze(0) - pos_t.unsqueeze(1);
    at::Tensor self_bias = (decoder->PositionBias(relative).permute({0, 2, 1}) +
                            T5MaskBias(relative <= 0, dtype).unsqueeze(1))
                               .unsqueeze(2);  // [B, H, 1, n_self]
    at::Tensor cross_bias =
        T5MaskBias(at::arange(n_cross, long_options).unsqueeze(0) < enc_t.unsqueeze(1), dtype)
            .view({B, 1, 1, n_cross});
    at::Tensor x = tree_->Embed(input_ids.to(options_.device, at::kLong));  // [B, 1, d]
    using at::indexing::Slice;
    for (int64_t l = 0; l < decoder->n_blocks(); ++l) {
      const T5Block& block = decoder->block(l);
      std::vector<at::Tensor> qkv =
          block->self_attention()->QueryKeyValue(block->self_norm()->forward(x));
      // Positions past a slot's length are never read, so writing before the step has
      // succeeded leaves the cache as it was if a later op fails.
      cache.self_keys(l).index_put_({slots_t, Slice(), pos_t}, qkv[1].squeeze(1));
      cache.self_values(l).index_put_({slots_t, Slice(), pos_t}, qkv[2].squeeze(1));
      at::Tensor a = AttendCached(qkv[0], cache.self_keys(l), cache.self_values(l), slot_list,
                                  slots_t, n_self, self_bias);
      at::Tensor h = T5ClampFp16(x + block->self_attention()->Out(a));
      at::Tensor q = block->cross_attention()->Query(block->cross_norm()->forward(h));
      a = AttendCached(q, cache.cross_keys(l), cache.cross_values(l), slot_list, slots_t, n_cross,
                       cross_bias);
      h = T5ClampFp16(h + block->cross_attention()->Out(a));
      x = block->FeedForward(h);
    }
    at::Tensor logits = tree_->LmHead(decoder->FinalNorm(x)).squeeze(1);  // [B, V]
    for (int64_t b = 0; b < B; ++b) cache.SetLength(slots[b], static_cast<int>(positions[b] + 1));
    return logits;
  });
}

}  // namespace lmeye
