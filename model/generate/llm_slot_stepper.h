// SlotStepper over a decoder-only LLM and one of its KV caches (both borrowed).
#pragma once

#include <vector>

#include "model/generate/slot_stepper.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_model.h"

namespace lmeye {

class LlmSlotStepper : public SlotStepper {
 public:
  // `model` and `cache` must outlive the stepper.
  LlmSlotStepper(const LlmModel& model, KvCache& cache)
      : SlotStepper(model.device()), model_(model), cache_(cache) {}

  int capacity() const override { return cache_.capacity(); }
  int n_free() const override { return cache_.n_free(); }
  int length(int slot) const override { return cache_.length(slot); }
  absl::Status CheckSlots(const std::vector<int>& slots) const override {
    return cache_.CheckSlots(slots);
  }
  absl::StatusOr<int> Allocate() override { return cache_.Allocate(); }
  absl::Status Release(int slot) override { return cache_.Release(slot); }
  absl::Status Truncate(int slot, int length) override { return cache_.Truncate(slot, length); }
  absl::Status CopySlot(int from, int to) override { return cache_.CopySlot(from, to); }
  absl::StatusOr<at::Tensor> Step(const std::vector<int>& slots,
                                  const std::vector<int64_t>& tokens) override;

 private:
  const LlmModel& model_;
  KvCache& cache_;
};

}  // namespace lmeye
