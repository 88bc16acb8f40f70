// The LMEye inference engine: the phases of docs/DESIGN.md section 2 as batch-first calls, for the
// scheduler to interleave across requests (continuous batching). An interface with one
// implementation per kind of language model: DecoderIpnEngine (decoder_engine.h) for the causal LMs
// of the own layout and the released v0, Seq2SeqIpnEngine (seq2seq_engine.h) for the released v0.1
// on BLIP-2 Flan-T5, whose "passes" are T5 encoder passes and whose decoding runs T5's decoder.
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
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/generate/beam_search.h"
#include "model/generate/choice_scores.h"
#include "model/generate/slot_stepper.h"
#include "model/ipn/image_cache.h"
#include "model/ipn/lmeye_model.h"
#include "model/ipn/prompt.h"

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
  // Encoder-decoder models: the first encoder pass's input rows [rows, d], which the second pass
  // adds slot_rows to.
  at::Tensor encoder_inputs;
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

class IpnEngine {
 public:
  // The engine for `model`'s kind of language model. `model` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<IpnEngine>> Create(LmeyeModel* model,
                                                           const EngineOptions& options);
  virtual ~IpnEngine() = default;

  virtual LmeyeModel& model() = 0;
  // The sequence slots of the model's cache, for decoding strategies and model-level tools.
  virtual SlotStepper& slots() = 0;
  virtual int free_slots() const = 0;
  virtual int capacity() const = 0;
  // Positions `seq` holds in its slot (0 without one).
  virtual int length(const IpnSequence& seq) const = 0;
  // The ids repetition penalties count before the generated ones, as Hugging Face's processors
  // see input_ids: the prompt's tokens for a causal LM, the decoder start token for an
  // encoder-decoder (whose input_ids are the decoder's).
  virtual std::vector<int64_t> PenaltyContext(const IpnSequence& seq) const = 0;

  // pixel_values: [B, 3, H, W] as the model's image processor makes them -> the image features
  // IpnSequence::h_i holds, one row per image ([B, d_v]; BLIP-2: the Q-Former queries [B, Q, H]).
  virtual absl::StatusOr<at::Tensor> EncodeImages(const at::Tensor& pixel_values) = 0;

  // Sequences in phase kNew. Allocates a slot for each that has none and runs one ragged pass
  // over the batch (for a sequence with a slot, only the positions after its cached_positions).
  // Interactive ones move to kFirstPassed (h_r set), IPN* and text-only ones to kReady
  // (next_logits set). INVALID_ARGUMENT for a text-only sequence without any token, or a given
  // slot whose length is not cached_positions or that leaves nothing to compute. On failure a
  // given slot is truncated back to its cached_positions and stays the sequence's.
  // RESOURCE_EXHAUSTED (nothing changed) when there are not enough free slots or a prompt does
  // not fit the slot capacity.
  virtual absl::Status FirstPass(const std::vector<IpnSequence*>& seqs) = 0;

  // Sequences in kFirstPassed -> kInteracted: one batched interaction.
  virtual absl::Status Interact(const std::vector<IpnSequence*>& seqs) = 0;

  // Sequences in kInteracted -> kReady: the slot positions with the interaction's rows (and what
  // follows them), then the logits of the first token.
  virtual absl::Status SecondPass(const std::vector<IpnSequence*>& seqs) = 0;

  // Appends tokens[b] to slots[b] (sequences in kReady) and returns the next-token logits
  // [B, V] float32.
  virtual absl::StatusOr<at::Tensor> DecodeStep(const std::vector<int>& slots,
                                                const std::vector<int64_t>& tokens) = 0;

  // Frees a sequence's slot (finished, cancelled or preempted). Safe on a sequence without one.
  virtual void Release(IpnSequence& seq) = 0;

  // --- Prefix reuse across requests (prefix_cache.h); an engine without it is never enabled ---
  virtual bool prefix_cache_enabled() const = 0;
  virtual int cached_prefixes() const = 0;
  // For a kNew sequence without a slot: copies the longest cached prefix of its first-pass
  // positions (at least `min_positions`; at least one position is left to compute, since the
  // first pass's output comes from it) into a free slot that becomes the sequence's, with
  // cached_positions set. Returns the positions reused: 0 when nothing matched, the cache is off,
  // no slot is free or the copy failed (then nothing changed). `digest` names the image.
  virtual int AdoptCachedPrefix(IpnSequence& seq, const ImageDigest& digest, int min_positions) = 0;
  // Ends a sequence: its slot becomes a prefix-cache entry keyed by its position keys (followed by
  // `generated` when it has no <img-d> slot, so that a chat's next turn quoting the answer reuses
  // them too), or is released when the cache is off.
  virtual void Retire(IpnSequence& seq, const ImageDigest& digest,
                      absl::Span<const int64_t> generated) = 0;
  // Releases least-recently-used prefix-cache entries until `n_free` slots are free (or the
  // prefix cache is empty).
  virtual void EvictCachedPrefixesUntilFree(int n_free) = 0;

  // --- Decoding strategies on a kReady sequence's slot (the slot stays the sequence's) ---
  // Beam search stepped by the caller, one step per scheduler iteration; holds
  // params.num_beams - 1 extra slots until destroyed.
  virtual absl::StatusOr<std::unique_ptr<BeamSearchRun>> StartBeamSearch(
      const IpnSequence& seq, const BeamSearchParams& params) = 0;
  // Log-probabilities of each choice continuing the sequence (one extra slot while scoring).
  virtual absl::StatusOr<ChoiceScores> ScoreChoices(
      const IpnSequence& seq, const std::vector<std::vector<int64_t>>& choices) = 0;
};

// FAILED_PRECONDITION unless every sequence is in `phase` (`call` names the engine call).
absl::Status CheckPhase(const std::vector<IpnSequence*>& seqs, IpnPhase phase,
                        absl::string_view call);

// Rows of different lengths ([T_b, d] each) as one right-padded batch: embeddings [B, T, d] and
// the attention mask [B, T] int64 (1 on real rows).
std::pair<at::Tensor, at::Tensor> RightPadded(const std::vector<at::Tensor>& rows);

}  // namespace lmeye
