// SlotStepper over T5's decoder and one of its caches (both borrowed): a slot's length is its
// decoder positions; its encoder side (cross-attention keys/values) is set once by
// T5Model::StartDecoding and travels with CopySlot.
#pragma once

#include <vector>

#include "model/generate/slot_stepper.h"
#include "model/llm/t5_cache.h"
#include "model/llm/t5_model.h"

namespace lmeye {

class T5SlotStepper : public SlotStepper {
 public:
  // `model` and `cache` must outlive the stepper.
  T5SlotStepper(const T5Model& model, T5Cache& cache)
      : SlotStepper(model.device()), model_(model), cache_(cache) {}

  int capacity() const override { return cache_.capacity(); }
  int n_free() const override { return cache_.n_free(); }
  int length(int slot) const override { return cache_.length(slot); }
  absl::Status CheckSlots(const std::vector<int>& slots) const override {
    return cache_.CheckSlots(slots);
  }
  absl::StatusOr<int> Allocate() override { return cache_.Allocate(); }
  absl::Status Release(int slot) override { return cache_.Release(slot); }
  // Keeps the first `length` decoder positions; the encoder side stays.
  absl::Status Truncate(int slot, int length) override;
  absl::Status CopySlot(int from, int to) override { return cache_.CopySlot(from, to); }
  absl::StatusOr<at::Tensor> Step(const std::vector<int>& slots,
                                  const std::vector<int64_t>& tokens) override;

 private:
  const T5Model& model_;
  T5Cache& cache_;
};

}  // namespace lmeye
