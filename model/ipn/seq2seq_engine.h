// The IPN engine of the released LMEye v0.1 on BLIP-2 Flan-T5 (docs/LINGCLOUD.md "LMEye v0.1"):
// engine.h's phases where the language model is T5, an encoder-decoder.
//
//   EncodeImages   pixel_values [B,3,S,S] (BLIP-processed) -> Q-Former queries q [B, Q, H]
//   FirstPass      [language_projection(q), shared[ids]] with the <img-d>/<img-q> embeddings
//                  added, a right-padded batch through T5's encoder -> h_r = the <img-q> row
//   Interact       q, h_r -> the <img-d> rows' additions (LingcloudV01Ipn::Interact)
//   SecondPass     the first pass's inputs with them added, through the encoder again; its output
//                  becomes each slot's cross-attention cache (T5Model::StartDecoding) and the
//                  decoder's start token gives the first logits
//   DecodeStep     one decoder token per running sequence (T5Model::DecodeStep)
// A sequence's ids are its prefix, text and tail, each tail slot (kSlotPosition) the <img-d> token:
// the prompt is tokenized whole and the image is the Q rows before it.
//
// A slot's length counts decoder positions (the start token and what was generated); the encoder
// side is fixed per request. IPN* (no interaction) decodes from the first pass's encoder output.
// There is no prefix reuse: every encoder row attends the whole prompt, image included, so no
// prefix of one request's encoder output is another's. Text-only turns are refused: the release
// always has an image.
//
// Ownership and threads: as DecoderIpnEngine (the engine owns the T5 cache, one thread calls it; a
// failed batched call leaves the sequences and the cache as they were).
#pragma once

#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/generate/t5_slot_stepper.h"
#include "model/ipn/engine.h"
#include "model/llm/t5_cache.h"

namespace lmeye {

class Seq2SeqIpnEngine final : public IpnEngine {
 public:
  // INVALID_ARGUMENT unless `model` is a v0.1 model (LmeyeModel::lingcloud_v01).
  static absl::StatusOr<std::unique_ptr<Seq2SeqIpnEngine>> Create(LmeyeModel* model,
                                                                  const EngineOptions& options);

  LmeyeModel& model() override { return *model_; }
  SlotStepper& slots() override { return stepper_; }
  int free_slots() const override { return cache_->n_free(); }
  // Decoder positions per slot (the start token and the generated ones); prompts are bounded by
  // the encoder capacity, the same number.
  int capacity() const override { return cache_->capacity(); }
  int length(const IpnSequence& seq) const override;
  std::vector<int64_t> PenaltyContext(const IpnSequence&) const override {
    return {v01_.t5().config().decoder_start_token_id};
  }

  absl::StatusOr<at::Tensor> EncodeImages(const at::Tensor& pixel_values) override;
  absl::Status FirstPass(const std::vector<IpnSequence*>& seqs) override;
  absl::Status Interact(const std::vector<IpnSequence*>& seqs) override;
  absl::Status SecondPass(const std::vector<IpnSequence*>& seqs) override;
  absl::StatusOr<at::Tensor> DecodeStep(const std::vector<int>& slots,
                                        const std::vector<int64_t>& tokens) override;
  void Release(IpnSequence& seq) override;

  bool prefix_cache_enabled() const override { return false; }
  int cached_prefixes() const override { return 0; }
  int AdoptCachedPrefix(IpnSequence&, const ImageDigest&, int) override { return 0; }
  void Retire(IpnSequence& seq, const ImageDigest&, absl::Span<const int64_t>) override {
    Release(seq);
  }
  void EvictCachedPrefixesUntilFree(int) override {}

  absl::StatusOr<std::unique_ptr<BeamSearchRun>> StartBeamSearch(
      const IpnSequence& seq, const BeamSearchParams& params) override;
  // Each choice as the decoder's first tokens, one decoder step at a time (choice_scorer.h).
  absl::StatusOr<ChoiceScores> ScoreChoices(
      const IpnSequence& seq, const std::vector<std::vector<int64_t>>& choices) override;

 private:
  Seq2SeqIpnEngine(LmeyeModel* model, std::unique_ptr<T5Cache> cache)
      : model_(model),
        v01_(*model->lingcloud_v01()),
        cache_(std::move(cache)),
        stepper_(v01_.t5(), *cache_) {}

  // The sequence's encoder ids: prefix, text, tail with the <img-d> id at each slot. [L] int64.
  at::Tensor EncoderIds(const IpnSequence& seq) const;
  // Row b of the encoder output ([B, T, d], its real rows where mask [B, T] is 1) becomes slot
  // slots[b]'s cross-attention cache; returns the start token's logits [B, V] float32. Leaves the
  // slots unstarted (length 0) on failure.
  absl::StatusOr<at::Tensor> StartDecoding(const at::Tensor& encoded, const at::Tensor& mask,
                                           const std::vector<int>& slots);

  LmeyeModel* model_;
  const LingcloudV01Model& v01_;
  std::unique_ptr<T5Cache> cache_;
  T5SlotStepper stepper_;  // over cache_
};

}  // namespace lmeye
