#include "model/llm/llm_model.h"

#include <algorithm>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/module_loader.h"
#include "model/llm/family_ops.h"

namespace lmeye {
namespace {

std::string Under(const std::string& base, const std::string& name) {
  return base.empty() ? name : base + "." + name;
}

// The position HF gives padding tokens when it derives positions from the mask: OPT computes
// cumsum(mask) * mask - 1 = -1 (learned row 1); LLaMA's generate() fills 1. Padding outputs are
// meaningless, but matching them keeps whole tensors comparable with the reference.
int64_t PaddingPosition(LlmFamily family) {
  switch (family) {
    case LlmFamily::kOpt:
      return -1;
    case LlmFamily::kLlama:
      return 1;
    case LlmFamily::kBloom:
      return 0;
  }
  return 0;
}

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

LlmModel::LlmModel(const LlmConfig& config, const LlmLoadOptions& options)
    : config_(config), options_(options) {}

absl::StatusOr<std::unique_ptr<LlmModel>> LlmModel::Load(const std::string& dir,
                                                         const LlmLoadOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(LlmConfig config, LoadLlmConfig(dir));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));
  return Load(config, *ckpt, options);
}

absl::StatusOr<std::unique_ptr<LlmModel>> LlmModel::Load(const LlmConfig& config,
                                                         const Checkpoint& ckpt,
                                                         const LlmLoadOptions& options) {
  if (options.dtype != at::kFloat && options.dtype != at::kBFloat16 && options.dtype != at::kHalf) {
    return absl::InvalidArgumentError("LLM compute dtype must be float32, bfloat16 or float16");
  }
  const LlmArch& arch = GetLlmArch(config.family);
  const LlmTensorNames& names = arch.tensors;
  const std::string* base = nullptr;
  std::vector<std::string> looked_for;
  for (const std::string& b : names.bases) {
    looked_for.push_back(Under(b, names.embed_tokens) + ".weight");
    if (ckpt.Contains(looked_for.back())) {
      base = &b;
      break;
    }
  }
  if (base == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", ckpt.location(), " is not a ", LlmFamilyName(config.family),
        " model: no token embedding (looked for ", absl::StrJoin(looked_for, ", "), ")"));
  }
  auto model = std::unique_ptr<LlmModel>(new LlmModel(config, options));
  LoadOptions load;
  load.dtype = options.dtype;
  load.strict_extra = true;
  // A tied lm_head is the embedding matrix; checkpoints that also store it are fine.
  if (config.tie_word_embeddings) load.ignore_extra.push_back(names.lm_head + ".weight");
  for (int64_t l = 0; l < config.n_layers; ++l) {
    for (const std::string& t : names.ignored_layer_tensors) {
      load.ignore_extra.push_back(Under(*base, LayerPath(names.layer, l) + "." + t));
    }
  }
  LMEYE_RETURN_IF_ERROR(model->Build(*base));
  LMEYE_RETURN_IF_ERROR(LoadModuleWeights(*model->module_, ckpt, load));
  LMEYE_RETURN_IF_ERROR(model->QuantizeIfAsked());
  return model;
}

absl::Status LlmModel::QuantizeIfAsked() {
  if (!options_.int8_weights) return absl::OkStatus();
  return GuardTorch("quantizing the LLM's weights to int8", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    module_->QuantizeInt8();
    return absl::OkStatus();
  });
}

absl::Status LlmModel::Build(const std::string& base) {
  if (options_.int8_weights && !options_.device.is_cpu()) {
    return absl::InvalidArgumentError(
        absl::StrCat("int8 weights run on the CPU only, not on ", options_.device.str()));
  }
  return GuardTorch("building the LLM", [&]() -> absl::Status {
    auto tensor_options = at::TensorOptions().dtype(options_.dtype).device(options_.device);
    module_ = CausalLm(config_, GetLlmArch(config_.family), base, tensor_options);
    if (config_.positions == LlmPositions::kAlibi) {
      alibi_slopes_ = AlibiSlopes(config_.n_heads).to(options_.device);
    }
    if (config_.positions == LlmPositions::kRope) {
      rope_inv_freq_ = RopeInvFreq(config_.head_dim, config_.rope_theta, options_.device);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<LlmModel>> LlmModel::CreateRandom(const LlmConfig& config,
                                                                 const LlmLoadOptions& options,
                                                                 uint64_t seed) {
  auto model = std::unique_ptr<LlmModel>(new LlmModel(config, options));
  LMEYE_RETURN_IF_ERROR(model->Build(GetLlmArch(config.family).tensors.bases.front()));
  LMEYE_RETURN_IF_ERROR(GuardTorch("initialising the LLM", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    at::Generator gen = at::detail::createCPUGenerator(seed);
    for (auto& item : model->module_->named_parameters(/*recurse=*/true)) {
      at::Tensor& p = item.value();
      if (p.dim() == 1) {
        p.zero_();  // biases
      } else {
        p.copy_(at::normal(0.0, 0.02, p.sizes(), gen));
      }
    }
    for (const auto& m : model->module_->modules()) {
      if (dynamic_cast<NormImpl*>(m.get()) == nullptr) continue;
      for (auto& item : m->named_parameters(/*recurse=*/false)) {
        if (item.key() == "weight") item.value().fill_(1.0);
      }
    }
    return absl::OkStatus();
  }));
  LMEYE_RETURN_IF_ERROR(model->QuantizeIfAsked());
  return model;
}

std::vector<std::string> LlmModel::TensorNames() const {
  std::vector<std::string> out;
  for (const auto& p : module_->named_parameters(/*recurse=*/true)) out.push_back(p.key());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> LlmModel::NamedTensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module_->named_parameters(/*recurse=*/true)) {
    out.emplace_back(p.key(), p.value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

absl::StatusOr<at::Tensor> LlmModel::EmbedTokens(const at::Tensor& ids) const {
  LlmInput input;
  input.input_ids = ids;
  at::Tensor embeds, mask;
  LMEYE_RETURN_IF_ERROR(Prepare(input, &embeds, &mask));
  return embeds;
}

absl::Status LlmModel::Prepare(const LlmInput& input, at::Tensor* embeds, at::Tensor* mask) const {
  if (input.input_ids.defined() == input.inputs_embeds.defined()) {
    return absl::InvalidArgumentError("LLM input: give exactly one of input_ids and inputs_embeds");
  }
  int64_t B = 0, T = 0;
  if (input.input_ids.defined()) {
    const at::Tensor& ids = input.input_ids;
    if (ids.dim() != 2 || !at::isIntegralType(ids.scalar_type(), /*includeBool=*/false)) {
      return absl::InvalidArgumentError(
          absl::StrCat("LLM input_ids must be an integer tensor [batch, seq], got ", Shape(ids)));
    }
    B = ids.size(0);
    T = ids.size(1);
    if (ids.numel() > 0) {
      const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
      if (lo < 0 || hi >= config_.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("LLM input_ids out of range [0, ",
                                                       config_.vocab_size, "): ", lo, "..", hi));
      }
    }
  } else {
    const at::Tensor& e = input.inputs_embeds;
    if (e.dim() != 3 || e.size(2) != config_.embed_dim || !at::isFloatingType(e.scalar_type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("LLM inputs_embeds must be floating [batch, seq, ", config_.embed_dim,
                       "], got ", Shape(e)));
    }
    B = e.size(0);
    T = e.size(1);
  }
  if (B == 0 || T == 0) return absl::InvalidArgumentError("LLM input is empty");
  if (input.attention_mask.defined() &&
      (input.attention_mask.dim() != 2 || input.attention_mask.size(0) != B ||
       input.attention_mask.size(1) != T)) {
    return absl::InvalidArgumentError(absl::StrCat("LLM attention_mask must be [", B, ", ", T,
                                                   "], got ", Shape(input.attention_mask)));
  }
  if (input.position_ids.defined() &&
      (input.position_ids.dim() != 2 || input.position_ids.size(0) != B ||
       input.position_ids.size(1) != T)) {
    return absl::InvalidArgumentError(absl::StrCat("LLM position_ids must be [", B, ", ", T,
                                                   "], got ", Shape(input.position_ids)));
  }
  return GuardTorch("LLM input", [&]() -> absl::Status {
    if (input.input_ids.defined()) {
      *embeds = module_->EmbedTokens(input.input_ids.to(options_.device, at::kLong));
    } else {
      *embeds = input.inputs_embeds.to(options_.device, options_.dtype);
    }
    auto long_options = at::TensorOptions().dtype(at::kLong).device(options_.device);
    *mask = input.attention_mask.defined()
                ? (input.attention_mask.to(options_.device) != 0).to(at::kLong)
                : at::ones({B, T}, long_options);
    return absl::OkStatus();
  });
}

LlmOutput LlmModel::Finish(at::Tensor last, std::vector<at::Tensor> hidden, const at::Tensor& mask,
                           const LlmOutputOptions& options) const {
  LlmOutput out;
  const int64_t B = last.size(0), T = last.size(1);
  if (T == 1) {
    out.last_token_state = last.select(1, 0);
  } else {
    // Index of each row's last real token: the (unique) argmax of (t + 1) * mask.
    at::Tensor t = at::arange(1, T + 1, mask.options());
    at::Tensor idx = (mask * t.unsqueeze(0)).argmax(1);
    out.last_token_state = last.index({at::arange(B, mask.options()), idx});
  }
  if (options.logits == LogitsAt::kAll) {
    out.logits = module_->LmHead(last);
  } else if (options.logits == LogitsAt::kLast) {
    out.logits = module_->LmHead(out.last_token_state);
  }
  out.last_hidden_state = std::move(last);
  out.hidden_states = std::move(hidden);
  return out;
}

absl::StatusOr<LlmOutput> LlmModel::Forward(const LlmInput& input,
                                            const LlmOutputOptions& options) const {
  at::Tensor embeds, mask;
  LMEYE_RETURN_IF_ERROR(Prepare(input, &embeds, &mask));
  const LlmPast* past = input.past;
  if (past != nullptr) LMEYE_RETURN_IF_ERROR(CheckPast(*past, input, embeds.size(0)));
  const int64_t P = past != nullptr ? past->mask.size(1) : 0;
  if (config_.positions == LlmPositions::kLearned && !input.position_ids.defined() &&
      P + embeds.size(1) > config_.max_positions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LLM input of ", P + embeds.size(1), " positions; the model has ", config_.max_positions));
  }
  return GuardTorch("LLM forward", [&]() -> absl::StatusOr<LlmOutput> {
    const int64_t T = embeds.size(1);
    at::Tensor valid = mask.to(at::kBool);
    at::Tensor counted = mask.cumsum(1) - 1;  // [B, T] position among the real tokens
    at::Tensor past_mask;                     // [B, P] int64
    if (past != nullptr) {
      past_mask = past->mask.to(options_.device, at::kLong);
      counted = counted + past_mask.sum(1, /*keepdim=*/true);
    }
    at::Tensor positions =
        input.position_ids.defined()
            ? input.position_ids.to(options_.device, at::kLong)
            : at::where(valid, counted, at::full_like(counted, PaddingPosition(config_.family)));
    AttentionPlan plan;
    at::Tensor t = at::arange(T, mask.options());
    // HF: causal and key padding; a padding query is not special-cased.
    plan.allowed = ((t.view({1, 1, T}) <= t.view({1, T, 1})) & valid.unsqueeze(1)).unsqueeze(1);
    if (past != nullptr) {
      at::Tensor seen = past_mask.to(at::kBool).view({-1, 1, 1, P}).expand({-1, 1, T, P});
      plan.allowed = at::cat({seen, plan.allowed}, 3);
      plan.past_keys = &past->keys;
      plan.past_values = &past->values;
    }
    plan.n_keys = P + T;
    if (config_.positions == LlmPositions::kRope) {
      RopeCosSin(positions, rope_inv_freq_, config_.rope_linear_factor, options_.dtype,
                 &plan.rope_cos, &plan.rope_sin);
    }
    if (config_.positions == LlmPositions::kAlibi) {
      // HF build_alibi_tensor: key positions (cumsum(mask) - 1) * mask.
      at::Tensor key_positions = input.position_ids.defined() ? positions : counted * mask;
      if (past != nullptr) {
        key_positions =
            at::cat({past->positions.to(options_.device, at::kLong) * past_mask, key_positions}, 1);
      }
      plan.bias = AlibiBias(alibi_slopes_, key_positions);
    }
    LlmPast present;
    if (options.present) {
      plan.present_keys = &present.keys;
      plan.present_values = &present.values;
      present.mask = mask;
      present.positions = positions;
    }
    std::vector<at::Tensor> hidden;
    at::Tensor pre_norm;
    at::Tensor last =
        module_->Decode(embeds, positions, plan, options.hidden_states ? &hidden : nullptr,
                        options.pre_norm ? &pre_norm : nullptr);
    LlmOutput out = Finish(std::move(last), std::move(hidden), mask, options);
    out.pre_norm_hidden = std::move(pre_norm);
    out.present = std::move(present);
    return out;
  });
}

absl::Status LlmModel::CheckPast(const LlmPast& past, const LlmInput& input, int64_t B) const {
  if (input.position_ids.defined()) {
    return absl::InvalidArgumentError("LLM input: position_ids with past (positions continue it)");
  }
  const int64_t L = config_.n_layers;
  if (static_cast<int64_t>(past.keys.size()) != L ||
      static_cast<int64_t>(past.values.size()) != L || !past.mask.defined() ||
      past.mask.dim() != 2 || past.mask.size(0) != B || !past.positions.defined() ||
      !past.positions.sizes().equals(past.mask.sizes())) {
    return absl::InvalidArgumentError(
        absl::StrCat("LLM past: ", L, " layers of keys and values and a [", B,
                     ", P] mask and positions "
                     "expected (the present of a Forward over the same batch)"));
  }
  for (int64_t l = 0; l < L; ++l) {
    const at::Tensor& k = past.keys[l];
    if (!k.defined() || k.dim() != 4 || k.size(0) != B || k.size(2) != past.mask.size(1) ||
        !k.sizes().equals(past.values[l].sizes())) {
      return absl::InvalidArgumentError(absl::StrCat("LLM past: layer ", l, " keys ", Shape(k),
                                                     " do not match the mask ", Shape(past.mask)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KvCache>> LlmModel::NewCache(int n_slots, int capacity) const {
  return KvCache::Create(config_, n_slots, capacity, options_.dtype, options_.device);
}

absl::StatusOr<LlmOutput> LlmModel::Step(const LlmInput& input, KvCache& cache,
                                         const std::vector<int>& slots,
                                         const LlmOutputOptions& options) const {
  if (input.past != nullptr || options.present) {
    return absl::InvalidArgumentError(
        "LLM Step: past and present are Forward's (Step has a cache)");
  }
  if (input.position_ids.defined()) {
    return absl::InvalidArgumentError(
        "LLM Step: position_ids must be undefined (positions continue each slot's cache)");
  }
  if (cache.dtype() != options_.dtype || cache.device() != options_.device ||
      cache.n_layers() != config_.n_layers) {
    return absl::InvalidArgumentError("LLM Step: the KV cache was not made for this model");
  }
  LMEYE_RETURN_IF_ERROR(cache.CheckSlots(slots));
  torch::NoGradGuard no_grad;
  at::Tensor embeds, mask;
  LMEYE_RETURN_IF_ERROR(Prepare(input, &embeds, &mask));
  const int64_t B = embeds.size(0), T = embeds.size(1);
  if (static_cast<int64_t>(slots.size()) != B) {
    return absl::InvalidArgumentError(
        absl::StrCat("LLM Step: ", slots.size(), " slots for a batch of ", B));
  }
  // Decode steps pass no mask: skip the device-to-host copy of the row counts.
  at::Tensor n_new_cpu =
      input.attention_mask.defined() ? mask.sum(1).cpu() : at::full({B}, T, at::kLong);
  std::vector<int64_t> lengths(B), n_new(B);
  int64_t n_keys = 0;
  bool all_real = true;
  std::vector<SlotRun> runs;  // the batch's slots as runs of consecutive slots, in batch order
  for (int64_t b = 0; b < B; ++b) {
    lengths[b] = cache.length(slots[b]);
    n_new[b] = n_new_cpu[b].item<int64_t>();
    if (n_new[b] == 0) {
      return absl::InvalidArgumentError(absl::StrCat("LLM Step: row ", b, " has no real token"));
    }
    if (lengths[b] + n_new[b] > cache.capacity()) {
      return absl::ResourceExhaustedError(absl::StrCat("LLM Step: KV cache slot ", slots[b],
                                                       " would hold ", lengths[b] + n_new[b],
                                                       " positions, capacity ", cache.capacity()));
    }
    if (config_.positions == LlmPositions::kLearned &&
        lengths[b] + n_new[b] > config_.max_positions) {
      return absl::InvalidArgumentError(
          absl::StrCat("LLM Step: slot ", slots[b], " would reach position ", lengths[b] + n_new[b],
                       "; the model has ", config_.max_positions, " positions"));
    }
    n_keys = std::max(n_keys, lengths[b] + n_new[b]);
    all_real &= n_new[b] == T;
    if (!runs.empty() && slots[b] == runs.back().first_slot + runs.back().count) {
      ++runs.back().count;
    } else {
      runs.push_back({slots[b], b, 1});
    }
  }
  // A few runs read in place beat one gather of the batch's whole live cache (SlotRun); many
  // short runs (an unsorted batch) would each cost a GEMM, so those gather.
  if (static_cast<int64_t>(runs.size()) > 1 + B / 4) runs.clear();
  absl::StatusOr<LlmOutput> out = GuardTorch("LLM step", [&]() -> absl::StatusOr<LlmOutput> {
    auto long_options = at::TensorOptions().dtype(at::kLong).device(options_.device);
    at::Tensor valid = mask.to(at::kBool);
    at::Tensor start = at::tensor(lengths, at::kLong).to(options_.device);
    // Real tokens get consecutive positions after the cached ones; padding gets 0 (not stored).
    at::Tensor positions = start.unsqueeze(1) + mask.cumsum(1) - 1;
    positions = at::where(valid, positions, at::zeros_like(positions));
    at::Tensor keys = at::arange(n_keys, long_options);
    AttentionPlan plan;
    plan.allowed = ((keys.view({1, 1, n_keys}) <= positions.unsqueeze(2)) & valid.unsqueeze(2))
                       .unsqueeze(1);  // [B, 1, T, L]
    plan.n_keys = n_keys;
    if (config_.positions == LlmPositions::kRope) {
      RopeCosSin(positions, rope_inv_freq_, config_.rope_linear_factor, options_.dtype,
                 &plan.rope_cos, &plan.rope_sin);
    }
    if (config_.positions == LlmPositions::kAlibi) {
      plan.bias = AlibiBias(alibi_slopes_, keys.view({1, n_keys}));
    }
    at::Tensor slot_ids =
        at::tensor(std::vector<int64_t>(slots.begin(), slots.end()), at::kLong).to(options_.device);
    plan.cache = &cache;
    plan.write_slots = slot_ids.view({B, 1}).expand({B, T}).reshape({-1});
    plan.write_positions = positions.reshape({-1});
    if (!all_real) {
      plan.stored = valid.reshape({-1}).nonzero().squeeze(1);
      plan.write_slots = plan.write_slots.index_select(0, plan.stored);
      plan.write_positions = plan.write_positions.index_select(0, plan.stored);
    }
    plan.read_runs = runs;
    plan.row_slots.assign(slots.begin(), slots.end());
    if (T == 1) plan.row_positions = lengths;
    if (runs.empty()) plan.read_slots = slot_ids;
    std::vector<at::Tensor> hidden;
    at::Tensor pre_norm;
    at::Tensor last =
        module_->Decode(embeds, positions, plan, options.hidden_states ? &hidden : nullptr,
                        options.pre_norm ? &pre_norm : nullptr);
    LlmOutput result = Finish(std::move(last), std::move(hidden), mask, options);
    result.pre_norm_hidden = std::move(pre_norm);
    return result;
  });
  if (!out.ok()) return out.status();
  for (int64_t b = 0; b < B; ++b)
    cache.SetLength(slots[b], static_cast<int>(lengths[b] + n_new[b]));
  return out;
}

}  // namespace lmeye
