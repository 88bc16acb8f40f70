// The IPN engine of a causal LM (OPT, BLOOM, LLaMA): the own layout and the released v0
// (engine.h's phases on the LLM's KV cache).
//
//   EncodeImages      pixel_values [B,3,H,W] -> h_I [B, d_v]                 (vision batch)
//   FirstPass         [E[P], h_img, E[X], <img-d>] for a ragged batch -> h_r  (first pass batch)
//                     IPN* sequences: [E[P], h_img, E[X] (, tail)] -> next-token logits
//                     text-only sequences (no image): [E[P], E[X]] -> next-token logits
//   Interact          h_I, h_r -> the slot rows for a batch                   (interaction batch)
//   SecondPass        the slot position(s) and any tail tokens, on the first pass's KV cache
//                     truncated to |P| + 1 + |X| -> next-token logits       (second pass batch)
//   DecodeStep        one token per running sequence -> next-token logits   (decode batch)
//
// The model's layout decides the rows (LmeyeModel's layout-neutral calls): the own layout has one
// slot after X; the released v0 has query_len <img-d> slots and prompt text after them (tail).
//
// The second pass reuses the first pass's cache: every position before the first slot is
// identical in both passes, so only the positions from it on are computed (the reference code
// runs the whole prompt twice).
//
// Around the phases the engine owns what touches the KV cache, so that its caller (the scheduler)
// never does: prefix reuse across requests (prefix_cache.h), beam search and multiple-choice
// scoring on a ready sequence's slot.
//
// Ownership and threads: the engine owns the KV cache and borrows the model; one thread (the
// worker's scheduler) calls it. Sequences are owned by the caller; the engine writes their
// slot, h_r, h_d and logits. A failed batched call leaves every sequence of the batch in its
// previous phase (slots allocated by the failed call are released).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/generate/llm_slot_stepper.h"
#include "model/ipn/engine.h"
#include "model/ipn/prefix_cache.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_model.h"

namespace lmeye {

// The rows of `positions` (a sequence's second_pass(), or its tail): token ids embedded by `llm`,
// the k-th kSlotPosition taking slot_rows[k]. [|positions|, d_L] in the LLM's dtype.
// INVALID_ARGUMENT when slot_rows has fewer rows than `positions` has slots.
absl::StatusOr<at::Tensor> EmbedTail(const LlmModel& llm, const std::vector<int>& positions,
                                     const at::Tensor& slot_rows);

class DecoderIpnEngine final : public IpnEngine {
 public:
  // `model` must outlive the engine. INVALID_ARGUMENT unless `model` has a causal LM (the own
  // layout, the released v0).
  static absl::StatusOr<std::unique_ptr<DecoderIpnEngine>> Create(LmeyeModel* model,
                                                                  const EngineOptions& options);

  LmeyeModel& model() override { return *model_; }
  SlotStepper& slots() override { return stepper_; }
  // For model-level tools and tests; the serving layer uses the calls below.
  KvCache& cache() { return *cache_; }
  int free_slots() const override { return cache_->n_free(); }
  int capacity() const override { return cache_->capacity(); }
  int length(const IpnSequence& seq) const override;
  std::vector<int64_t> PenaltyContext(const IpnSequence& seq) const override {
    return seq.prompt_token_ids();
  }

  // engine.h says what each call does. EncodeImages: CLIP-normalised pixels -> h_I [B, d_v].
  absl::StatusOr<at::Tensor> EncodeImages(const at::Tensor& pixel_values) override;
  absl::Status FirstPass(const std::vector<IpnSequence*>& seqs) override;
  absl::Status Interact(const std::vector<IpnSequence*>& seqs) override;
  // Truncates each slot to the positions before the first <img-d> and computes from there.
  absl::Status SecondPass(const std::vector<IpnSequence*>& seqs) override;
  absl::StatusOr<at::Tensor> DecodeStep(const std::vector<int>& slots,
                                        const std::vector<int64_t>& tokens) override;
  void Release(IpnSequence& seq) override;

  bool prefix_cache_enabled() const override { return prefix_cache_->enabled(); }
  int cached_prefixes() const override { return prefix_cache_->size(); }
  int AdoptCachedPrefix(IpnSequence& seq, const ImageDigest& digest, int min_positions) override;
  void Retire(IpnSequence& seq, const ImageDigest& digest,
              absl::Span<const int64_t> generated) override;
  void EvictCachedPrefixesUntilFree(int n_free) override;

  absl::StatusOr<std::unique_ptr<BeamSearchRun>> StartBeamSearch(
      const IpnSequence& seq, const BeamSearchParams& params) override;
  absl::StatusOr<ChoiceScores> ScoreChoices(
      const IpnSequence& seq, const std::vector<std::vector<int64_t>>& choices) override;

 private:
  DecoderIpnEngine(LmeyeModel* model, std::unique_ptr<KvCache> cache, int prefix_cache_entries)
      : model_(model),
        cache_(std::move(cache)),
        stepper_(model->llm(), *cache_),
        prefix_cache_(std::make_unique<PrefixCache>(cache_.get(), prefix_cache_entries)) {}

  // [E[P], h_img, E[X]] of one sequence: [1 + |P| + |X|, d_L] in the model dtype; [E[P], E[X]]
  // when `h_img` is undefined (text-only).
  absl::StatusOr<at::Tensor> PromptEmbeddings(const IpnSequence& seq, const at::Tensor& h_img);
  // INVALID_ARGUMENT unless the tail's slots match the model's n_slot_positions().
  absl::Status CheckTail(const IpnSequence& seq) const;

  LmeyeModel* model_;
  std::unique_ptr<KvCache> cache_;
  LlmSlotStepper stepper_;                     // over cache_
  std::unique_ptr<PrefixCache> prefix_cache_;  // holds slots of cache_: declared after it
};

}  // namespace lmeye
