// The LMEye inference engine: the phases of docs/DESIGN.md section 2 as batch-first calls, for the
// scheduler to interleave across requests (continuous batching).
//
//   EncodeImages      pixel_values [B,3,H,W] -> h_I [B, d_v]                 (vision batch)
//   FirstPass         [E[P], h_img, E[X], <img-d>] for a ragged batch -> h_r  (first pass batch)
//                     IPN* sequences: [E[P], h_img, E[X] (, tail)] -> next-token logits
//                     text-only sequences (no image): [E[P], E[X]] -> next-token logits
//   Interact          h_I, h_r -> the slot rows for a batch                   (interaction batch)
//   SecondPass        the slot position(s) and any tail tokens, on the first pass's KV cache
//                     truncated to |P| + 1 + |X| -> next-token logits       (second pass batch)
//
// The model's layout decides the rows (LmeyeModel's layout-neutral calls): the own layout has one
// slot after X; the released v0 has query_len <img-d> slots and prompt text after them (tail).
//   DecodeStep        one token per running sequence -> next-token logits   (decode batch)
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
#include "model/generate/beam_search.h"
#include "model/generate/choice_scores.h"
#include "model/ipn/image_cache.h"
#include "model/ipn/lmeye_model.h"
#include "model/ipn/prefix_cache.h"
#include "model/ipn/prompt.h"
#include "model/llm/kv_cache.h"

namespace lmeye {

struct EngineOptions {
  int n_slots = 8;      // sequences held in the KV cache at once
  int capacity = 1024;  // positions per sequence (prompt + image + slot + generated)
  // Finished sequences whose KV prefix is kept for reuse (prefix_cache.h); 0 disables reuse.
  int prefix_cache_entries = 0;
};

enum class IpnPhase {
  kNew,          // has h_I (unless text-only) and prompt ids; no slot yet
  kFirstPassed,  // interactive: slot holds [P, h_img, X, <img-d>], h_r set
  kInteracted,   // h_d set
  kReady,        // slot holds the full prompt; next_logits are the logits after it
};

// The prefix-cache key of a tail slot position of a sequence without interaction (ids are >= 0,
// the image position is kImagePositionKey).
inline constexpr int64_t kSlotPositionKey = -2;

// One request's state through the phases.
struct IpnSequence {
  at::Tensor h_i;           // [d_v] image feature (from the image cache or EncodeImages)
  std::vector<int> prefix;  // P: e.g. the LLM's BOS
  std::vector<int> text;    // X: prompt tokens between the image and the first <img-d> slot
  // What follows X, when more than the one <img-d> slot of the own layout: kSlotPosition for each
  // <img-d> (the layout's n_slot_positions of them, the first at tail[0]) and token ids between
  // and after them (the released v0: five slots, then "\nAnswer:"). Empty: one slot.
  std::vector<int> tail;
  bool interaction = true;  // false: IPN* (static visual information only)
  // false: a text-only chat turn. No h_img position and no interaction (whatever `interaction`
  // says): the LLM sees [E[P], E[X]] and FirstPass leaves the sequence kReady.
  bool has_image = true;

  IpnPhase phase = IpnPhase::kNew;
  int slot = -1;  // KV cache slot, -1 when none
  // Prefix reuse (kNew only): the caller may give the sequence a slot that already holds the
  // first `cached_positions` first-pass positions of this very prompt (a prefix-cache hit:
  // Allocate + KvCache::CopySlot + Truncate); FirstPass then computes only the rest. The keys
  // and values of a position depend only on the positions up to it, so this changes nothing.
  int cached_positions = 0;
  at::Tensor h_r;          // [d_L]
  at::Tensor h_d;          // [d_L]: the own layout's transmitted vector (undefined for v0)
  at::Tensor slot_rows;    // [n_slot_positions, d_L]: the second pass's <img-d> rows
  at::Tensor next_logits;  // [V] float32: logits for the next token (kReady and after)

  // Keys of the first-pass positions that later prompts may share: P, the image, X, and for a
  // sequence without interaction its tail (slots as kSlotPositionKey). An interactive
  // sequence's slots and what follows them differ per request. See prefix_cache.h.
  std::vector<int64_t> position_keys() const;

  // The prompt's token ids in order, positions that are not tokens (image, slots) left out: the
  // context of repetition penalties.
  std::vector<int64_t> prompt_token_ids() const;

  // Whether the sequence runs the interaction and second pass (an image and interaction on).
  bool interactive() const { return interaction && has_image; }
  // The positions after X: the tail, or the one slot of the own layout (none without an image).
  std::vector<int> second_pass() const {
    if (!tail.empty()) return tail;
    return has_image && interaction ? std::vector<int>{kSlotPosition} : std::vector<int>{};
  }
  // Positions before the first slot: |P| + 1 + |X| (|P| + |X| without an image).
  int positions_before_slots() const {
    return static_cast<int>(prefix.size() + text.size()) + (has_image ? 1 : 0);
  }
  // Positions the prompt occupies in the LLM: everything before the slots, then the tail (or
  // the own layout's one slot when interactive).
  int prompt_positions() const {
    return positions_before_slots() + static_cast<int>(second_pass().size());
  }
};

// The rows of `positions` (a sequence's second_pass(), or its tail): token ids embedded by `llm`,
// the k-th kSlotPosition taking slot_rows[k]. [|positions|, d_L] in the LLM's dtype.
// INVALID_ARGUMENT when slot_rows has fewer rows than `positions` has slots.
absl::StatusOr<at::Tensor> EmbedTail(const LlmModel& llm, const std::vector<int>& positions,
                                     const at::Tensor& slot_rows);

class IpnEngine {
 public:
  // `model` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<IpnEngine>> Create(LmeyeModel* model,
                                                           const EngineOptions& options);

  LmeyeModel& model() { return *model_; }
  // For model-level tools and tests; the serving layer uses the calls below.
  KvCache& cache() { return *cache_; }
  int free_slots() const { return cache_->n_free(); }
  int capacity() const { return cache_->capacity(); }
  // Positions `seq` holds in its slot (0 without one).
  int length(const IpnSequence& seq) const;

  // pixel_values: [B, 3, H, W] CLIP-normalised -> h_I [B, d_v].
  absl::StatusOr<at::Tensor> EncodeImages(const at::Tensor& pixel_values);

  // Sequences in phase kNew. Allocates a slot for each that has none and runs one ragged Step
  // over the batch (for a sequence with a slot, only the positions after its cached_positions).
  // Interactive ones move to kFirstPassed (h_r set), IPN* and text-only ones to kReady
  // (next_logits set). INVALID_ARGUMENT for a text-only sequence without any token, or a given
  // slot whose length is not cached_positions or that leaves nothing to compute. On failure a
  // given slot is truncated back to its cached_positions and stays the sequence's.
  // RESOURCE_EXHAUSTED (nothing changed) when there are not enough free slots or a prompt does
  // not fit the slot capacity.
  absl::Status FirstPass(const std::vector<IpnSequence*>& seqs);

  // Sequences in kFirstPassed -> kInteracted: one batched interaction.
  absl::Status Interact(const std::vector<IpnSequence*>& seqs);

  // Sequences in kInteracted -> kReady: truncate to the positions before the slot and compute
  // the slot position alone.
  absl::Status SecondPass(const std::vector<IpnSequence*>& seqs);

  // Appends tokens[b] to slots[b] (sequences in kReady) and returns the next-token logits
  // [B, V] float32.
  absl::StatusOr<at::Tensor> DecodeStep(const std::vector<int>& slots,
                                        const std::vector<int64_t>& tokens);

  // Frees a sequence's slot (finished, cancelled or preempted). Safe on a sequence without one.
  void Release(IpnSequence& seq);

  // --- Prefix reuse across requests (prefix_cache.h) ---
  bool prefix_cache_enabled() const { return prefix_cache_->enabled(); }
  int cached_prefixes() const { return prefix_cache_->size(); }
  // For a kNew sequence without a slot: copies the longest cached prefix of its first-pass
  // positions (at least `min_positions`; at least one position is left to compute, since the
  // first pass's output comes from it) into a free slot that becomes the sequence's, with
  // cached_positions set. Returns the positions reused: 0 when nothing matched, the cache is off,
  // no slot is free or the copy failed (then nothing changed). `digest` names the image.
  int AdoptCachedPrefix(IpnSequence& seq, const ImageDigest& digest, int min_positions);
  // Ends a sequence: its slot becomes a prefix-cache entry keyed by its position keys (followed by
  // `generated` when it has no <img-d> slot, so that a chat's next turn quoting the answer reuses
  // them too), or is released when the cache is off.
  void Retire(IpnSequence& seq, const ImageDigest& digest, absl::Span<const int64_t> generated);
  // Releases least-recently-used prefix-cache entries until `n_free` slots are free (or the
  // prefix cache is empty).
  void EvictCachedPrefixesUntilFree(int n_free);

  // --- Decoding strategies on a kReady sequence's slot (the slot stays the sequence's) ---
  // Beam search stepped by the caller, one step per scheduler iteration; holds
  // params.num_beams - 1 extra slots until destroyed.
  absl::StatusOr<std::unique_ptr<BeamSearchRun>> StartBeamSearch(const IpnSequence& seq,
                                                                 const BeamSearchParams& params);
  // Log-probabilities of each choice continuing the sequence (one extra slot while scoring).
  absl::StatusOr<ChoiceScores> ScoreChoices(const IpnSequence& seq,
                                            const std::vector<std::vector<int64_t>>& choices);

 private:
  IpnEngine(LmeyeModel* model, std::unique_ptr<KvCache> cache, int prefix_cache_entries)
      : model_(model),
        cache_(std::move(cache)),
        prefix_cache_(std::make_unique<PrefixCache>(cache_.get(), prefix_cache_entries)) {}

  // [E[P], h_img, E[X]] of one sequence: [1 + |P| + |X|, d_L] in the model dtype; [E[P], E[X]]
  // when `h_img` is undefined (text-only).
  absl::StatusOr<at::Tensor> PromptEmbeddings(const IpnSequence& seq, const at::Tensor& h_img);
  // INVALID_ARGUMENT unless the tail's slots match the model's n_slot_positions().
  absl::Status CheckTail(const IpnSequence& seq) const;

  LmeyeModel* model_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<PrefixCache> prefix_cache_;  // holds slots of cache_: declared after it
};

}  // namespace lmeye
