#include "model/ipn/decoder_engine.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/generate/choice_scorer.h"

namespace lmeye {
namespace {

std::vector<int> SlotsOf(const std::vector<IpnSequence*>& seqs) {
  std::vector<int> slots;
  slots.reserve(seqs.size());
  for (const IpnSequence* s : seqs) slots.push_back(s->slot);
  return slots;
}

}  // namespace

absl::StatusOr<at::Tensor> EmbedTail(const LlmModel& llm, const std::vector<int>& positions,
                                     const at::Tensor& slot_rows) {
  std::vector<int64_t> ids;
  for (int id : positions) ids.push_back(id == kSlotPosition ? 0 : id);
  LMEYE_ASSIGN_OR_RETURN(at::Tensor rows,
                         llm.EmbedTokens(at::tensor(ids, at::kLong).view({1, -1})));
  rows = rows[0].clone();  // [|positions|, d_L]
  int64_t k = 0;
  for (size_t t = 0; t < positions.size(); ++t) {
    if (positions[t] != kSlotPosition) continue;
    if (!slot_rows.defined() || k >= slot_rows.size(0)) {
      return absl::InvalidArgumentError("fewer slot rows than <img-d> positions");
    }
    rows[static_cast<int64_t>(t)].copy_(slot_rows[k++]);
  }
  return rows;
}

namespace {

// Positions the first pass computes: up to and including the first slot when interactive, the
// whole prompt otherwise.
int FirstPassPositions(const IpnSequence& s) {
  return s.interactive() ? s.positions_before_slots() + 1 : s.prompt_positions();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecoderIpnEngine>> DecoderIpnEngine::Create(
    LmeyeModel* model, const EngineOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("IpnEngine: no model");
  if (model->lingcloud_v01() != nullptr) {
    return absl::InvalidArgumentError("DecoderIpnEngine: the model's LM is an encoder-decoder");
  }
  if (options.prefix_cache_entries < 0) {
    return absl::InvalidArgumentError("IpnEngine: prefix_cache_entries must be at least 0");
  }
  LMEYE_ASSIGN_OR_RETURN(auto cache, model->llm().NewCache(options.n_slots, options.capacity));
  return std::unique_ptr<DecoderIpnEngine>(
      new DecoderIpnEngine(model, std::move(cache), options.prefix_cache_entries));
}

absl::StatusOr<at::Tensor> DecoderIpnEngine::EncodeImages(const at::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  return model_->ImageFeature(pixel_values);
}

absl::StatusOr<at::Tensor> DecoderIpnEngine::PromptEmbeddings(const IpnSequence& seq,
                                                              const at::Tensor& h_img) {
  const LlmModel& llm = model_->llm();
  std::vector<at::Tensor> parts;
  auto embed = [&](const std::vector<int>& ids) -> absl::Status {
    if (ids.empty()) return absl::OkStatus();
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    LMEYE_ASSIGN_OR_RETURN(at::Tensor e,
                           llm.EmbedTokens(at::tensor(ids64, at::kLong).view({1, -1})));
    parts.push_back(e[0]);
    return absl::OkStatus();
  };
  LMEYE_RETURN_IF_ERROR(embed(seq.prefix));
  if (h_img.defined()) parts.push_back(h_img.view({1, -1}).to(llm.dtype()));
  LMEYE_RETURN_IF_ERROR(embed(seq.text));
  return at::cat(parts, 0);
}

absl::Status DecoderIpnEngine::FirstPass(const std::vector<IpnSequence*>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  LMEYE_RETURN_IF_ERROR(CheckPhase(seqs, IpnPhase::kNew, "FirstPass"));
  int n_new_slots = 0;
  for (const IpnSequence* s : seqs) {
    if (s->slot < 0) {
      if (s->cached_positions != 0) {
        return absl::InvalidArgumentError("FirstPass: cached_positions without a slot");
      }
      ++n_new_slots;
      continue;
    }
    if (!cache_->in_use(s->slot) || cache_->length(s->slot) != s->cached_positions ||
        s->cached_positions < 1 || s->cached_positions >= FirstPassPositions(*s)) {
      return absl::InvalidArgumentError(absl::StrCat("FirstPass: a given slot must hold 1 to ",
                                                     FirstPassPositions(*s) - 1,
                                                     " cached positions of the prompt"));
    }
  }
  if (n_new_slots > cache_->n_free()) {
    return absl::ResourceExhaustedError(absl::StrCat("FirstPass: ", n_new_slots,
                                                     " sequences need a slot but ",
                                                     cache_->n_free(), " KV cache slots are free"));
  }
  for (const IpnSequence* s : seqs) {
    // +1: room for at least one generated token.
    if (s->prompt_positions() + 1 > cache_->capacity()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "FirstPass: a prompt of ", s->prompt_positions(), " positions does not fit the KV cache ",
          "slot capacity ", cache_->capacity()));
    }
    if (!s->has_image) {
      if (s->prompt_positions() == 0) {
        return absl::InvalidArgumentError("FirstPass: a text-only sequence without tokens");
      }
      if (!s->tail.empty()) {
        return absl::InvalidArgumentError("FirstPass: a text-only sequence has no <img-d> tail");
      }
      continue;
    }
    LMEYE_RETURN_IF_ERROR(CheckTail(*s));
    if (!s->h_i.defined() || s->h_i.dim() != 1 || s->h_i.size(0) != model_->dims().d_v) {
      return absl::InvalidArgumentError(
          absl::StrCat("FirstPass: h_i must be [", model_->dims().d_v, "]"));
    }
  }
  torch::NoGradGuard no_grad;
  std::vector<int> slots;
  std::vector<int> allocated;  // released again if the step fails
  auto undo = [&]() {
    for (int slot : allocated) cache_->Release(slot).IgnoreError();
    for (IpnSequence* s : seqs) {
      if (s->slot >= 0) cache_->SetLength(s->slot, s->cached_positions);
    }
  };
  absl::Status status = GuardTorch("IPN first pass", [&]() -> absl::Status {
    // h_img of the sequences with an image, in one batch; row_of[b] indexes it (-1: none).
    std::vector<at::Tensor> image_rows;
    std::vector<int64_t> row_of;
    for (const IpnSequence* s : seqs) {
      row_of.push_back(s->has_image ? static_cast<int64_t>(image_rows.size()) : -1);
      if (s->has_image) image_rows.push_back(s->h_i);
    }
    at::Tensor h_img;  // [n_images, d_L]
    at::Tensor imgd;   // [1, d_L]: the first pass's <img-d> row
    if (!image_rows.empty()) {
      LMEYE_ASSIGN_OR_RETURN(
          h_img, model_->ImagePosition(at::stack(image_rows).to(model_->llm().dtype())));
      LMEYE_ASSIGN_OR_RETURN(imgd, model_->FirstPassSlot());
      imgd = imgd.view({1, -1}).to(h_img.dtype());
    }
    std::vector<at::Tensor> rows;
    for (size_t b = 0; b < seqs.size(); ++b) {
      LMEYE_ASSIGN_OR_RETURN(
          at::Tensor row,
          PromptEmbeddings(*seqs[b], row_of[b] >= 0 ? h_img[row_of[b]] : at::Tensor()));
      if (seqs[b]->interactive()) {
        row = at::cat({row, imgd}, 0);
      } else if (!seqs[b]->tail.empty()) {
        // Without interaction every <img-d> keeps its first-pass row, in one pass.
        const int64_t n = model_->n_slot_positions();
        LMEYE_ASSIGN_OR_RETURN(at::Tensor tail,
                               EmbedTail(model_->llm(), seqs[b]->tail, imgd.expand({n, -1})));
        row = at::cat({row, tail}, 0);
      }
      const int64_t cached = seqs[b]->cached_positions;
      if (cached > 0) row = row.narrow(0, cached, row.size(0) - cached);
      rows.push_back(row);
    }
    const int64_t batch = static_cast<int64_t>(seqs.size());
    auto [embeds, mask] = RightPadded(rows);
    for (size_t b = 0; b < seqs.size(); ++b) {
      if (seqs[b]->slot >= 0) {
        slots.push_back(seqs[b]->slot);
        continue;
      }
      LMEYE_ASSIGN_OR_RETURN(int slot, cache_->Allocate());
      slots.push_back(slot);
      allocated.push_back(slot);
    }
    LlmInput input;
    input.inputs_embeds = embeds;
    input.attention_mask = mask;
    // Right padding: each row's last real position is its <img-d> slot (interactive) or its
    // last prompt token (IPN*). Logits there serve IPN* rows; h_r serves interactive rows.
    LlmOutputOptions options;
    bool any_static = false;
    for (const IpnSequence* s : seqs) any_static |= !s->interactive();
    options.logits = any_static ? LogitsAt::kLast : LogitsAt::kNone;
    options.pre_norm = model_->first_pass_pre_norm();
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model_->llm().Step(input, *cache_, slots, options));
    const at::Tensor& states = options.pre_norm ? out.pre_norm_hidden : out.last_hidden_state;
    at::Tensor last_index = mask.sum(1) - 1;  // [B]
    for (int64_t b = 0; b < batch; ++b) {
      IpnSequence& s = *seqs[b];
      s.slot = slots[b];
      if (s.interactive()) {
        s.h_r = states[b][last_index[b].item<int64_t>()];
        s.phase = IpnPhase::kFirstPassed;
      } else {
        s.next_logits = out.logits[b].to(at::kFloat);
        s.phase = IpnPhase::kReady;
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    undo();
    for (IpnSequence* s : seqs) {
      if (s->cached_positions == 0) s->slot = -1;
      s->phase = IpnPhase::kNew;
    }
  }
  return status;
}

absl::Status DecoderIpnEngine::Interact(const std::vector<IpnSequence*>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  LMEYE_RETURN_IF_ERROR(CheckPhase(seqs, IpnPhase::kFirstPassed, "Interact"));
  torch::NoGradGuard no_grad;
  return GuardTorch("IPN interaction", [&]() -> absl::Status {
    std::vector<at::Tensor> h_i, h_r;
    for (const IpnSequence* s : seqs) {
      h_i.push_back(s->h_i);
      h_r.push_back(s->h_r);
    }
    const at::ScalarType dtype = model_->llm().dtype();
    LMEYE_ASSIGN_OR_RETURN(
        IpnSlotRows out, model_->InteractSlots(at::stack(h_i).to(dtype), at::stack(h_r).to(dtype)));
    for (size_t b = 0; b < seqs.size(); ++b) {
      if (out.h_d.defined()) seqs[b]->h_d = out.h_d[b];
      seqs[b]->slot_rows = out.rows[b];
      seqs[b]->phase = IpnPhase::kInteracted;
    }
    return absl::OkStatus();
  });
}

absl::Status DecoderIpnEngine::SecondPass(const std::vector<IpnSequence*>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  LMEYE_RETURN_IF_ERROR(CheckPhase(seqs, IpnPhase::kInteracted, "SecondPass"));
  torch::NoGradGuard no_grad;
  std::vector<int> slots = SlotsOf(seqs);
  std::vector<int> old_lengths;
  for (const IpnSequence* s : seqs) {
    old_lengths.push_back(cache_->length(s->slot));
    // Keep [P, h_img, X]: everything before the first slot is identical in both passes.
    LMEYE_RETURN_IF_ERROR(cache_->Truncate(s->slot, s->positions_before_slots()));
  }
  absl::Status status = GuardTorch("IPN second pass", [&]() -> absl::Status {
    // Rows of different lengths (a v0 tail may hold text), right-padded.
    std::vector<at::Tensor> rows;
    for (const IpnSequence* s : seqs) {
      LMEYE_ASSIGN_OR_RETURN(at::Tensor row,
                             EmbedTail(model_->llm(), s->second_pass(), s->slot_rows));
      rows.push_back(row);
    }
    auto [embeds, mask] = RightPadded(rows);
    LlmInput input;
    input.inputs_embeds = embeds;
    // One row each (the own layout's one slot): no padding, no mask.
    if (embeds.size(1) > 1) input.attention_mask = mask;
    LlmOutputOptions options;
    options.logits = LogitsAt::kLast;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model_->llm().Step(input, *cache_, slots, options));
    for (size_t b = 0; b < seqs.size(); ++b) {
      seqs[b]->next_logits = out.logits[b].to(at::kFloat);
      seqs[b]->phase = IpnPhase::kReady;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    // The truncated positions still hold the first pass's keys and values: restore the lengths.
    for (size_t b = 0; b < seqs.size(); ++b) cache_->SetLength(seqs[b]->slot, old_lengths[b]);
  }
  return status;
}

absl::Status DecoderIpnEngine::CheckTail(const IpnSequence& s) const {
  if (s.tail.empty()) {
    if (model_->n_slot_positions() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("FirstPass: this model's prompts end in ", model_->n_slot_positions(),
                       " <img-d> positions (a tail), the sequence has none"));
    }
    return absl::OkStatus();
  }
  int n_slots = 0;
  for (int id : s.tail) n_slots += id == kSlotPosition ? 1 : 0;
  if (s.tail[0] != kSlotPosition || n_slots != model_->n_slot_positions()) {
    return absl::InvalidArgumentError(
        absl::StrCat("FirstPass: the tail must start with an <img-d> position and hold ",
                     model_->n_slot_positions(), " of them, it holds ", n_slots));
  }
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> DecoderIpnEngine::DecodeStep(const std::vector<int>& slots,
                                                        const std::vector<int64_t>& tokens) {
  if (slots.size() != tokens.size() || slots.empty()) {
    return absl::InvalidArgumentError("DecodeStep: one token per slot, at least one");
  }
  torch::NoGradGuard no_grad;
  return GuardTorch("decode step", [&]() -> absl::StatusOr<at::Tensor> {
    LlmInput input;
    input.input_ids = at::tensor(tokens, at::kLong).view({-1, 1});
    LlmOutputOptions options;
    options.logits = LogitsAt::kLast;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model_->llm().Step(input, *cache_, slots, options));
    return out.logits.to(at::kFloat);
  });
}

int DecoderIpnEngine::length(const IpnSequence& seq) const {
  return seq.slot >= 0 ? cache_->length(seq.slot) : 0;
}

void DecoderIpnEngine::Release(IpnSequence& seq) {
  if (seq.slot >= 0) cache_->Release(seq.slot).IgnoreError();
  seq.slot = -1;
}

int DecoderIpnEngine::AdoptCachedPrefix(IpnSequence& seq, const ImageDigest& digest,
                                        int min_positions) {
  if (!prefix_cache_->enabled() || seq.slot >= 0 || seq.phase != IpnPhase::kNew) return 0;
  std::optional<PrefixCache::Match> match = prefix_cache_->Lookup(
      seq.has_image, digest, seq.position_keys(), min_positions, seq.prompt_positions() - 1);
  if (!match) return 0;
  absl::StatusOr<int> slot = cache_->Allocate();
  if (!slot.ok()) return 0;
  // Copy only the shared positions: truncate the entry for the copy, then restore its length
  // (Truncate only masks; the entry's later positions are still there).
  const int entry_length = cache_->length(match->slot);
  absl::Status status = cache_->Truncate(match->slot, match->n_positions);
  if (status.ok()) status = cache_->CopySlot(match->slot, *slot);
  cache_->SetLength(match->slot, entry_length);
  if (!status.ok()) {
    cache_->Release(*slot).IgnoreError();
    return 0;
  }
  seq.slot = *slot;
  seq.cached_positions = match->n_positions;
  return match->n_positions;
}

void DecoderIpnEngine::Retire(IpnSequence& seq, const ImageDigest& digest,
                              absl::Span<const int64_t> generated) {
  if (seq.slot < 0) return;
  if (!prefix_cache_->enabled()) return Release(seq);
  std::vector<int64_t> keys = seq.position_keys();
  // Without the <img-d> slot the generated tokens follow the prompt directly.
  if (!seq.interactive()) keys.insert(keys.end(), generated.begin(), generated.end());
  keys.resize(std::min<size_t>(keys.size(), cache_->length(seq.slot)));
  prefix_cache_->Insert(seq.slot, seq.has_image, digest, std::move(keys));
  seq.slot = -1;
}

void DecoderIpnEngine::EvictCachedPrefixesUntilFree(int n_free) {
  prefix_cache_->EvictUntilFree(n_free);
}

absl::StatusOr<std::unique_ptr<BeamSearchRun>> DecoderIpnEngine::StartBeamSearch(
    const IpnSequence& seq, const BeamSearchParams& params) {
  if (seq.phase != IpnPhase::kReady || seq.slot < 0) {
    return absl::FailedPreconditionError("StartBeamSearch: the sequence is not ready");
  }
  return BeamSearchRun::Start(stepper_, seq.slot, seq.next_logits, params);
}

absl::StatusOr<ChoiceScores> DecoderIpnEngine::ScoreChoices(
    const IpnSequence& seq, const std::vector<std::vector<int64_t>>& choices) {
  if (seq.phase != IpnPhase::kReady || seq.slot < 0) {
    return absl::FailedPreconditionError("ScoreChoices: the sequence is not ready");
  }
  return lmeye::ScoreChoices(model_->llm(), *cache_, seq.slot, seq.next_logits, choices);
}

}  // namespace lmeye
