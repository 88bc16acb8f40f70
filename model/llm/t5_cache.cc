#include "model/llm/t5_cache.h"

#include <set>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/torch_status.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<T5Cache>> T5Cache::Create(const T5Config& config, int n_slots,
                                                         int capacity, int encoder_capacity,
                                                         at::ScalarType dtype, at::Device device) {
  if (n_slots <= 0 || capacity <= 0 || encoder_capacity <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 cache needs n_slots, capacity and encoder_capacity > 0, got ", n_slots,
                     ", ", capacity, ", ", encoder_capacity));
  }
  auto cache = std::unique_ptr<T5Cache>(new T5Cache());
  cache->capacity_ = capacity;
  cache->encoder_capacity_ = encoder_capacity;
  cache->dtype_ = dtype;
  cache->device_ = device;
  cache->length_.assign(n_slots, 0);
  cache->encoder_length_.assign(n_slots, 0);
  cache->used_.assign(n_slots, false);
  absl::Status status = GuardTorch("allocating the T5 cache", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    auto options = at::TensorOptions().dtype(dtype).device(device);
    const int64_t H = config.n_heads, D = config.d_kv;
    for (int64_t l = 0; l < config.n_decoder_layers; ++l) {
      cache->self_keys_.push_back(at::zeros({n_slots, H, capacity, D}, options));
      cache->self_values_.push_back(at::zeros({n_slots, H, capacity, D}, options));
      cache->cross_keys_.push_back(at::zeros({n_slots, H, encoder_capacity, D}, options));
      cache->cross_values_.push_back(at::zeros({n_slots, H, encoder_capacity, D}, options));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return absl::ResourceExhaustedError(status.message());
  return cache;
}

int T5Cache::n_free() const {
  int n = 0;
  for (bool u : used_) n += u ? 0 : 1;
  return n;
}

int64_t T5Cache::bytes() const {
  int64_t n = 0;
  for (const auto* list : {&self_keys_, &self_values_, &cross_keys_, &cross_values_}) {
    for (const at::Tensor& t : *list) n += t.numel() * t.element_size();
  }
  return n;
}

absl::StatusOr<int> T5Cache::Allocate() {
  for (int s = 0; s < n_slots(); ++s) {
    if (!used_[s]) {
      used_[s] = true;
      length_[s] = 0;
      encoder_length_[s] = 0;
      return s;
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("all ", n_slots(), " T5 cache slots are in use"));
}

absl::Status T5Cache::Release(int slot) {
  if (!in_use(slot)) {
    return absl::InvalidArgumentError(absl::StrCat("T5 cache slot ", slot, " is not in use"));
  }
  used_[slot] = false;
  length_[slot] = 0;
  encoder_length_[slot] = 0;
  return absl::OkStatus();
}

bool T5Cache::in_use(int slot) const { return slot >= 0 && slot < n_slots() && used_[slot]; }

int T5Cache::length(int slot) const { return slot >= 0 && slot < n_slots() ? length_[slot] : 0; }

int T5Cache::encoder_length(int slot) const {
  return slot >= 0 && slot < n_slots() ? encoder_length_[slot] : 0;
}

absl::Status T5Cache::CopySlot(int from, int to) {
  if (!in_use(from) || !in_use(to)) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 cache CopySlot(", from, ", ", to, "): both slots must be in use"));
  }
  if (from == to) return absl::OkStatus();
  return GuardTorch("copying a T5 cache slot", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const int64_t n = length_[from], ne = encoder_length_[from];
    for (size_t l = 0; l < self_keys_.size(); ++l) {
      self_keys_[l][to].narrow(1, 0, n).copy_(self_keys_[l][from].narrow(1, 0, n));
      self_values_[l][to].narrow(1, 0, n).copy_(self_values_[l][from].narrow(1, 0, n));
      cross_keys_[l][to].narrow(1, 0, ne).copy_(cross_keys_[l][from].narrow(1, 0, ne));
      cross_values_[l][to].narrow(1, 0, ne).copy_(cross_values_[l][from].narrow(1, 0, ne));
    }
    length_[to] = length_[from];
    encoder_length_[to] = encoder_length_[from];
    return absl::OkStatus();
  });
}

absl::Status T5Cache::CheckSlots(const std::vector<int>& slots) const {
  std::set<int> seen;
  for (int s : slots) {
    if (!in_use(s)) {
      return absl::InvalidArgumentError(absl::StrCat("T5 cache slot ", s, " is not in use"));
    }
    if (!seen.insert(s).second) {
      return absl::InvalidArgumentError(absl::StrCat("T5 cache slot ", s, " appears twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace lmeye
