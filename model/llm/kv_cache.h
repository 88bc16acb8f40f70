// The KV cache of a causal LM: a pool of fixed-capacity sequence slots.
//
// Layout: per layer one key and one value tensor [n_slots, n_kv_heads, capacity, head_dim],
// allocated (zeroed) once. A sequence owns one slot; its positions 0..length-1 hold the keys and
// values of its real tokens only (padding of a batched call is never stored), so a sequence's
// cache is independent of the batch it was computed in and position p of the slot is the token
// at logical position p.
//
// Why slots and not per-sequence tensors or pages:
// - a decode step appends one position per sequence with a single index_put_ per layer: no
//   reallocation, no copy of the existing cache (a growing per-sequence tensor would reallocate,
//   and gathering per-sequence tensors into a padded batch copies the whole cache every step);
// - a batch in slot order reads the cache as strided views, one per run of consecutive slots
//   (llm_modules.h SlotRun): zero copies when the batch is one range, one attention GEMM pair
//   more per hole otherwise. Only a batch of many short runs gathers its slots' live prefixes;
// - it needs only stock ATen ops, so it runs on any libtorch (CPU, CUDA); a paged layout would
//   need a custom gather/attention kernel to avoid copying. On CPU a decode step (one token per
//   row) does use one, DecodeAttention (decode_attention.h): it reads each row's slot where it
//   lies, whatever the order of the batch's slots.
// The price is memory reserved per slot for `capacity` positions; the scheduler's KV budget is
// n_slots * capacity tokens.
//
// Sequence operations the engine needs: Allocate/Release (continuous batching: a sequence joins
// or leaves between any two steps), Truncate (the IPN second pass keeps the first P positions of
// the first pass and appends the <img-d> position), CopySlot (share a prefix, beam search).
//
// Threading: not thread-safe. One thread (the scheduler that owns the model) owns a cache and
// calls LlmModel::Step with it; nothing else may touch it meanwhile.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/llm/llm_config.h"

namespace lmeye {

class KvCache {
 public:
  // Allocates n_slots * capacity positions for every layer of `config` in `dtype` on `device`.
  // Errors: non-positive sizes, allocation failure (RESOURCE_EXHAUSTED).
  static absl::StatusOr<std::unique_ptr<KvCache>> Create(const LlmConfig& config, int n_slots,
                                                         int capacity, at::ScalarType dtype,
                                                         at::Device device);

  int n_slots() const { return static_cast<int>(length_.size()); }
  int capacity() const { return capacity_; }
  int n_layers() const { return static_cast<int>(keys_.size()); }
  int n_free() const;
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }
  int64_t bytes() const;

  // Takes the lowest free slot, with length 0. RESOURCE_EXHAUSTED when every slot is in use.
  absl::StatusOr<int> Allocate();
  // Returns a slot to the pool; its contents become garbage. INVALID_ARGUMENT if not in use.
  absl::Status Release(int slot);
  bool in_use(int slot) const;
  // Number of cached positions of `slot` (0 for a free slot).
  int length(int slot) const;
  // Keeps the first `length` positions (0 <= length <= current length); the next Step appends at
  // `length`. O(1): stale positions are masked, not cleared.
  absl::Status Truncate(int slot, int length);
  // Makes slot `to` (in use) an exact copy of slot `from` (in use): contents and length.
  absl::Status CopySlot(int from, int to);

  // For LlmModel::Step (same thread): the storage of one layer, [n_slots, n_kv_heads, capacity,
  // head_dim], and the bookkeeping after a step appended positions.
  at::Tensor& keys(int layer) { return keys_[layer]; }
  at::Tensor& values(int layer) { return values_[layer]; }
  void SetLength(int slot, int length) { length_[slot] = length; }
  // OK if every slot is valid, in use and distinct.
  absl::Status CheckSlots(const std::vector<int>& slots) const;

 private:
  KvCache() = default;

  int capacity_ = 0;
  at::ScalarType dtype_ = at::kFloat;
  at::Device device_ = at::kCPU;
  std::vector<at::Tensor> keys_, values_;  // per layer
  std::vector<int> length_;                // per slot
  std::vector<bool> used_;                 // per slot
};

}  // namespace lmeye
