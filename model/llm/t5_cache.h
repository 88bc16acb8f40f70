// The decoder cache of a T5 encoder-decoder: a pool of fixed-capacity sequence slots, like
// KvCache (kv_cache.h explains why slots: a decode step appends one position per sequence with
// one write per layer, and any set of in-use slots, in any order, forms a batch).
//
// A T5 decoder attends two things, so a slot holds two caches per decoder layer:
// - self-attention keys/values of the decoder tokens so far, [n_slots, H, capacity, d_kv], of
//   which positions [0, length) are valid;
// - cross-attention keys/values of the request's encoder output, [n_slots, H, encoder_capacity,
//   d_kv], of which [0, encoder_length) are valid: computed once per request by
//   T5Model::StartDecoding from the encoder's real rows only (padding is never stored), so every
//   decode step reuses them instead of projecting the encoder output again in every layer.
// Positions past a slot's lengths hold garbage that attention masks out; the tensors are zeroed
// once so that the garbage is finite (0 * NaN would poison the weighted sum).
//
// The price is memory reserved per slot for `capacity` + `encoder_capacity` positions.
//
// Threading: not thread-safe. The thread that owns the model's scheduler owns the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/llm/t5_config.h"

namespace lmeye {

class T5Cache {
 public:
  // Allocates the caches of every decoder layer of `config` in `dtype` on `device`. Errors:
  // non-positive sizes (INVALID_ARGUMENT), allocation failure (RESOURCE_EXHAUSTED).
  static absl::StatusOr<std::unique_ptr<T5Cache>> Create(const T5Config& config, int n_slots,
                                                         int capacity, int encoder_capacity,
                                                         at::ScalarType dtype, at::Device device);

  int n_slots() const { return static_cast<int>(length_.size()); }
  int capacity() const { return capacity_; }
  int encoder_capacity() const { return encoder_capacity_; }
  int n_layers() const { return static_cast<int>(self_keys_.size()); }
  int n_free() const;
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }
  int64_t bytes() const;

  // Takes the lowest free slot, with both lengths 0 (StartDecoding fills it).
  // RESOURCE_EXHAUSTED when every slot is in use.
  absl::StatusOr<int> Allocate();
  // Returns a slot to the pool. INVALID_ARGUMENT if it is not in use.
  absl::Status Release(int slot);
  bool in_use(int slot) const;
  // Decoder positions cached in `slot` (0 for a free slot).
  int length(int slot) const;
  // Encoder rows cached in `slot` (0 before StartDecoding and for a free slot).
  int encoder_length(int slot) const;
  // Makes slot `to` (in use) an exact copy of slot `from` (in use): both caches and both lengths
  // (beam search: a beam continues another's hypothesis).
  absl::Status CopySlot(int from, int to);

  // For T5Model (same thread): one decoder layer's storage and the bookkeeping after a call.
  at::Tensor& self_keys(int layer) { return self_keys_[layer]; }
  at::Tensor& self_values(int layer) { return self_values_[layer]; }
  at::Tensor& cross_keys(int layer) { return cross_keys_[layer]; }
  at::Tensor& cross_values(int layer) { return cross_values_[layer]; }
  void SetLength(int slot, int length) { length_[slot] = length; }
  void SetEncoderLength(int slot, int length) { encoder_length_[slot] = length; }
  // OK if every slot is valid, in use and distinct.
  absl::Status CheckSlots(const std::vector<int>& slots) const;

 private:
  T5Cache() = default;

  int capacity_ = 0;
  int encoder_capacity_ = 0;
  at::ScalarType dtype_ = at::kFloat;
  at::Device device_ = at::kCPU;
  std::vector<at::Tensor> self_keys_, self_values_;    // per layer
  std::vector<at::Tensor> cross_keys_, cross_values_;  // per layer
  std::vector<int> length_, encoder_length_;           // per slot
  std::vector<bool> used_;                             // per slot
};

}  // namespace lmeye
