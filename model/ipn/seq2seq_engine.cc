#include "model/ipn/seq2seq_engine.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/generate/choice_scorer.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<Seq2SeqIpnEngine>> Seq2SeqIpnEngine::Create(
    LmeyeModel* model, const EngineOptions& options) {
  if (model == nullptr || model->lingcloud_v01() == nullptr) {
    return absl::InvalidArgumentError("Seq2SeqIpnEngine: needs an LMEye v0.1 (BLIP-2 T5) model");
  }
  if (options.capacity < 2) {
    return absl::InvalidArgumentError("Seq2SeqIpnEngine: capacity must leave room to decode");
  }
  // The encoder side holds a prompt of up to `capacity` rows, as a causal LM's slot would.
  LMEYE_ASSIGN_OR_RETURN(
      std::unique_ptr<T5Cache> cache,
      model->lingcloud_v01()->t5().NewCache(options.n_slots, options.capacity, options.capacity));
  return std::unique_ptr<Seq2SeqIpnEngine>(new Seq2SeqIpnEngine(model, std::move(cache)));
}

int Seq2SeqIpnEngine::length(const IpnSequence& seq) const {
  return seq.slot >= 0 ? cache_->length(seq.slot) : 0;
}

at::Tensor Seq2SeqIpnEngine::EncoderIds(const IpnSequence& seq) const {
  std::vector<int64_t> ids(seq.prefix.begin(), seq.prefix.end());
  ids.insert(ids.end(), seq.text.begin(), seq.text.end());
  for (int id : seq.tail) {
    ids.push_back(id == kSlotPosition ? v01_.ipn().options().imgd_token_id : id);
  }
  return at::tensor(ids, at::kLong);
}

absl::StatusOr<at::Tensor> Seq2SeqIpnEngine::EncodeImages(const at::Tensor& pixel_values) {
  return v01_.ImageQueries(pixel_values);
}

absl::Status Seq2SeqIpnEngine::FirstPass(const std::vector<IpnSequence*>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  LMEYE_RETURN_IF_ERROR(CheckPhase(seqs, IpnPhase::kNew, "FirstPass"));
  const int64_t queries = v01_.ipn().num_query_tokens();
  const int64_t width = v01_.blip2_config().qformer.hidden_size;
  for (const IpnSequence* s : seqs) {
    if (!s->has_image) {
      return absl::InvalidArgumentError(
          "FirstPass: this model (LMEye v0.1, BLIP-2) answers about an image; a text-only turn "
          "has none");
    }
    if (s->slot >= 0 || s->cached_positions != 0) {
      return absl::InvalidArgumentError("FirstPass: this engine reuses no cached prefix");
    }
    if (!s->h_i.defined() || s->h_i.dim() != 2 || s->h_i.size(0) != queries ||
        s->h_i.size(1) != width) {
      return absl::InvalidArgumentError(absl::StrCat(
          "FirstPass: h_i must be the Q-Former's queries [", queries, ", ", width, "]"));
    }
    int n_slots = 0;
    for (int id : s->tail) n_slots += id == kSlotPosition ? 1 : 0;
    if (n_slots != model_->n_slot_positions()) {
      return absl::InvalidArgumentError(absl::StrCat("FirstPass: the prompt must hold ",
                                                     model_->n_slot_positions(),
                                                     " <img-d> positions, it holds ", n_slots));
    }
    const int64_t rows = queries + static_cast<int64_t>(s->prompt_token_ids().size()) + n_slots;
    if (rows > cache_->encoder_capacity()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "FirstPass: a prompt of ", rows, " encoder rows (", queries,
          " image queries included) does not fit the slot capacity ", cache_->encoder_capacity()));
    }
  }
  if (static_cast<int>(seqs.size()) > cache_->n_free()) {
    return absl::ResourceExhaustedError(absl::StrCat("FirstPass: ", seqs.size(),
                                                     " sequences need a slot but ",
                                                     cache_->n_free(), " cache slots are free"));
  }
  torch::NoGradGuard no_grad;
  std::vector<int> slots;
  absl::Status status = GuardTorch("LMEye v0.1 first pass", [&]() -> absl::Status {
    const LingcloudV01Ipn& ipn = v01_.ipn();
    const T5Model& t5 = v01_.t5();
    std::vector<at::Tensor> q_rows;
    for (const IpnSequence* s : seqs) q_rows.push_back(s->h_i);
    LMEYE_ASSIGN_OR_RETURN(at::Tensor lmi, ipn.LanguageInputs(at::stack(q_rows)));  // [B, Q, d]
    std::vector<at::Tensor> rows;
    std::vector<at::Tensor> ids;
    for (size_t b = 0; b < seqs.size(); ++b) {
      ids.push_back(EncoderIds(*seqs[b]).view({1, -1}).to(t5.device()));
      LMEYE_ASSIGN_OR_RETURN(at::Tensor tokens, t5.EmbedTokens(ids.back()));
      LMEYE_ASSIGN_OR_RETURN(at::Tensor x,
                             ipn.FirstPassInputs(lmi.narrow(0, b, 1), tokens, ids.back()));
      rows.push_back(x[0]);
    }
    for (size_t b = 0; b < seqs.size(); ++b) {
      LMEYE_ASSIGN_OR_RETURN(int slot, cache_->Allocate());
      slots.push_back(slot);
    }
    // One encoder pass for the batch: interactive rows take h_r at their <img-q>; IPN* rows
    // (no interaction) decode from it, so their slots start here, the others' in SecondPass.
    auto [x, mask] = RightPadded(rows);
    mask = mask.to(x.device());
    LMEYE_ASSIGN_OR_RETURN(at::Tensor encoded, t5.Encode(x, mask));
    std::vector<at::Tensor> imgq_hidden(seqs.size());
    std::vector<int64_t> static_index;
    std::vector<int> static_slots;
    for (size_t b = 0; b < seqs.size(); ++b) {
      if (!seqs[b]->interactive()) {
        static_index.push_back(static_cast<int64_t>(b));
        static_slots.push_back(slots[b]);
        continue;
      }
      LMEYE_ASSIGN_OR_RETURN(std::vector<int64_t> imgq, ipn.ImgqRows(ids[b]));
      imgq_hidden[b] = encoded[static_cast<int64_t>(b)][imgq[0]];
    }
    at::Tensor static_logits;
    if (!static_index.empty()) {
      at::Tensor pick = at::tensor(static_index, at::kLong).to(x.device());
      LMEYE_ASSIGN_OR_RETURN(
          static_logits,
          StartDecoding(encoded.index_select(0, pick), mask.index_select(0, pick), static_slots));
    }
    for (size_t b = 0; b < seqs.size(); ++b) {
      IpnSequence& s = *seqs[b];
      s.slot = slots[b];
      if (s.interactive()) {
        s.h_r = imgq_hidden[b];
        s.encoder_inputs = rows[b];
        s.phase = IpnPhase::kFirstPassed;
      }
    }
    for (size_t i = 0; i < static_index.size(); ++i) {
      IpnSequence& s = *seqs[static_cast<size_t>(static_index[i])];
      s.next_logits = static_logits[static_cast<int64_t>(i)];
      s.phase = IpnPhase::kReady;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    for (int slot : slots) cache_->Release(slot).IgnoreError();
    for (IpnSequence* s : seqs) {
      s->slot = -1;
      s->phase = IpnPhase::kNew;
    }
  }
  return status;
}

absl::Status Seq2SeqIpnEngine::Interact(const std::vector<IpnSequence*>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  LMEYE_RETURN_IF_ERROR(CheckPhase(seqs, IpnPhase::kFirstPassed, "Interact"));
  torch::NoGradGuard no_grad;
  return GuardTorch("LMEye v0.1 interaction", [&]() -> absl::Status {
    std::vector<at::Tensor> q, h;
    for (const IpnSequence* s : seqs) {
      q.push_back(s->h_i);
      h.push_back(s->h_r);
    }
    LMEYE_ASSIGN_OR_RETURN(at::Tensor added, v01_.ipn().Interact(at::stack(q), at::stack(h)));
    for (size_t b = 0; b < seqs.size(); ++b) {
      seqs[b]->slot_rows = added[static_cast<int64_t>(b)];
      seqs[b]->phase = IpnPhase::kInteracted;
    }
    return absl::OkStatus();
  });
}

absl::Status Seq2SeqIpnEngine::SecondPass(const std::vector<IpnSequence*>& seqs) {
  if (seqs.empty()) return absl::OkStatus();
  LMEYE_RETURN_IF_ERROR(CheckPhase(seqs, IpnPhase::kInteracted, "SecondPass"));
  torch::NoGradGuard no_grad;
  return GuardTorch("LMEye v0.1 second pass", [&]() -> absl::Status {
    std::vector<at::Tensor> rows;
    std::vector<int> slots;
    for (const IpnSequence* s : seqs) {
      at::Tensor ids = EncoderIds(*s).view({1, -1}).to(s->encoder_inputs.device());
      LMEYE_ASSIGN_OR_RETURN(at::Tensor x,
                             v01_.ipn().SecondPassInputs(s->encoder_inputs.unsqueeze(0), ids,
                                                         s->slot_rows.unsqueeze(0)));
      rows.push_back(x[0]);
      slots.push_back(s->slot);
    }
    auto [x, mask] = RightPadded(rows);
    mask = mask.to(x.device());
    LMEYE_ASSIGN_OR_RETURN(at::Tensor encoded, v01_.t5().Encode(x, mask));
    LMEYE_ASSIGN_OR_RETURN(at::Tensor logits, StartDecoding(encoded, mask, slots));
    for (size_t b = 0; b < seqs.size(); ++b) {
      seqs[b]->next_logits = logits[static_cast<int64_t>(b)];
      seqs[b]->encoder_inputs = at::Tensor();  // the slot's cross-attention cache holds it now
      seqs[b]->phase = IpnPhase::kReady;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<at::Tensor> Seq2SeqIpnEngine::StartDecoding(const at::Tensor& encoded,
                                                           const at::Tensor& mask,
                                                           const std::vector<int>& slots) {
  const T5Model& t5 = v01_.t5();
  LMEYE_RETURN_IF_ERROR(t5.StartDecoding(encoded, mask, *cache_, slots));
  std::vector<int64_t> start(slots.size(), t5.config().decoder_start_token_id);
  absl::StatusOr<at::Tensor> logits = stepper_.Step(slots, start);
  if (!logits.ok()) {
    for (int slot : slots) cache_->SetLength(slot, 0);
    return logits.status();
  }
  return logits->to(at::kFloat);
}

absl::StatusOr<at::Tensor> Seq2SeqIpnEngine::DecodeStep(const std::vector<int>& slots,
                                                        const std::vector<int64_t>& tokens) {
  if (slots.size() != tokens.size() || slots.empty()) {
    return absl::InvalidArgumentError("DecodeStep: one token per slot, at least one");
  }
  torch::NoGradGuard no_grad;
  return GuardTorch("decode step", [&]() -> absl::StatusOr<at::Tensor> {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor logits, stepper_.Step(slots, tokens));
    return logits.to(at::kFloat);
  });
}

void Seq2SeqIpnEngine::Release(IpnSequence& seq) {
  if (seq.slot >= 0) cache_->Release(seq.slot).IgnoreError();
  seq.slot = -1;
}

absl::StatusOr<std::unique_ptr<BeamSearchRun>> Seq2SeqIpnEngine::StartBeamSearch(
    const IpnSequence& seq, const BeamSearchParams& params) {
  if (seq.phase != IpnPhase::kReady || seq.slot < 0) {
    return absl::FailedPreconditionError("StartBeamSearch: the sequence is not ready");
  }
  return BeamSearchRun::Start(stepper_, seq.slot, seq.next_logits, params);
}

absl::StatusOr<ChoiceScores> Seq2SeqIpnEngine::ScoreChoices(
    const IpnSequence& seq, const std::vector<std::vector<int64_t>>& choices) {
  if (seq.phase != IpnPhase::kReady || seq.slot < 0) {
    return absl::FailedPreconditionError("ScoreChoices: the sequence is not ready");
  }
  // T5's decoder continues the start token: each choice is scored as the answer's first tokens.
  return lmeye::ScoreChoices(stepper_, seq.slot, seq.next_logits, choices);
}

}  // namespace lmeye
