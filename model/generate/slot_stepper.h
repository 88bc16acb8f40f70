// Sequences held in the slots of a model's cache, stepped one token at a time: what a decoding
// strategy that forks and reorders sequences (beam search) needs from a model, whatever its
// architecture. A decoder-only LLM over its KvCache (llm_slot_stepper.h) and T5's decoder over its
// self- and cross-attention cache (t5_slot_stepper.h) implement it, so one beam search serves both.
//
// A slot's length counts the positions it holds (for an encoder-decoder: decoder positions; the
// encoder side is fixed per slot and copied with it).
//
// Threading: not thread-safe; the thread that owns the cache calls it.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

class SlotStepper {
 public:
  virtual ~SlotStepper() = default;

  at::Device device() const { return device_; }
  // Positions one slot holds at most.
  virtual int capacity() const = 0;
  virtual int n_free() const = 0;
  // Positions `slot` holds (0 for a free slot).
  virtual int length(int slot) const = 0;
  // OK if every slot is valid, in use and distinct; INVALID_ARGUMENT naming the first that is not.
  virtual absl::Status CheckSlots(const std::vector<int>& slots) const = 0;

  // The lowest free slot, empty. RESOURCE_EXHAUSTED when none is free.
  virtual absl::StatusOr<int> Allocate() = 0;
  virtual absl::Status Release(int slot) = 0;
  // Keeps the first `length` positions of `slot`.
  virtual absl::Status Truncate(int slot, int length) = 0;
  // Makes slot `to` an exact copy of slot `from` (both in use).
  virtual absl::Status CopySlot(int from, int to) = 0;

  // Appends tokens[b] to slots[b] (distinct, in use) and returns the next-token logits [B, V]
  // in the model's compute dtype. Fails without changing a slot's length.
  virtual absl::StatusOr<at::Tensor> Step(const std::vector<int>& slots,
                                          const std::vector<int64_t>& tokens) = 0;

 protected:
  explicit SlotStepper(at::Device device) : device_(device) {}

 private:
  at::Device device_;
};

}  // namespace lmeye
