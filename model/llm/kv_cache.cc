#include "model/llm/kv_cache.h"

#include <set>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/torch_status.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<KvCache>> KvCache::Create(const LlmConfig& config, int n_slots,
                                                         int capacity, at::ScalarType dtype,
                                                         at::Device device) {
  if (n_slots <= 0 || capacity <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache needs n_slots > 0 and capacity > 0, got ", n_slots, ", ", capacity));
  }
  auto cache = std::unique_ptr<KvCache>(new KvCache());
  cache->capacity_ = capacity;
  cache->dtype_ = dtype;
  cache->device_ = device;
  cache->length_.assign(n_slots, 0);
  cache->used_.assign(n_slots, false);
  absl::Status status = GuardTorch("allocating the KV cache", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    auto options = at::TensorOptions().dtype(dtype).device(device);
    for (int64_t l = 0; l < config.n_layers; ++l) {
      // Zeroed, not empty: masked positions get attention weight 0, and 0 * NaN garbage would
      // still poison the weighted sum of values.
      cache->keys_.push_back(
          at::zeros({n_slots, config.n_kv_heads, capacity, config.head_dim}, options));
      cache->values_.push_back(
          at::zeros({n_slots, config.n_kv_heads, capacity, config.head_dim}, options));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return absl::ResourceExhaustedError(status.message());
  return cache;
}

int KvCache::n_free() const {
  int n = 0;
  for (bool u : used_) n += u ? 0 : 1;
  return n;
}

int64_t KvCache::bytes() const {
  int64_t n = 0;
  for (const auto& t : keys_) n += t.numel() * t.element_size();
  for (const auto& t : values_) n += t.numel() * t.element_size();
  return n;
}

absl::StatusOr<int> KvCache::Allocate() {
  for (int s = 0; s < n_slots(); ++s) {
    if (!used_[s]) {
      used_[s] = true;
      length_[s] = 0;
      return s;
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("all ", n_slots(), " KV cache slots are in use"));
}

absl::Status KvCache::Release(int slot) {
  if (!in_use(slot)) {
    return absl::InvalidArgumentError(absl::StrCat("KV cache slot ", slot, " is not in use"));
  }
  used_[slot] = false;
  length_[slot] = 0;
  return absl::OkStatus();
}

bool KvCache::in_use(int slot) const { return slot >= 0 && slot < n_slots() && used_[slot]; }

int KvCache::length(int slot) const { return slot >= 0 && slot < n_slots() ? length_[slot] : 0; }

absl::Status KvCache::Truncate(int slot, int length) {
  if (!in_use(slot)) {
    return absl::InvalidArgumentError(absl::StrCat("KV cache slot ", slot, " is not in use"));
  }
  if (length < 0 || length > length_[slot]) {
    return absl::InvalidArgumentError(absl::StrCat("cannot truncate KV cache slot ", slot,
                                                   " of length ", length_[slot], " to ", length));
  }
  length_[slot] = length;
  return absl::OkStatus();
}

absl::Status KvCache::CopySlot(int from, int to) {
  if (!in_use(from) || !in_use(to)) {
    return absl::InvalidArgumentError(
        absl::StrCat("KV cache CopySlot(", from, ", ", to, "): both slots must be in use"));
  }
  if (from == to) return absl::OkStatus();
  return GuardTorch("copying a KV cache slot", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const int64_t n = length_[from];
    for (size_t l = 0; l < keys_.size(); ++l) {
      keys_[l][to].narrow(1, 0, n).copy_(keys_[l][from].narrow(1, 0, n));
      values_[l][to].narrow(1, 0, n).copy_(values_[l][from].narrow(1, 0, n));
    }
    length_[to] = length_[from];
    return absl::OkStatus();
  });
}

absl::Status KvCache::CheckSlots(const std::vector<int>& slots) const {
  std::set<int> seen;
  for (int s : slots) {
    if (!in_use(s)) {
      return absl::InvalidArgumentError(absl::StrCat("KV cache slot ", s, " is not in use"));
    }
    if (!seen.insert(s).second) {
      return absl::InvalidArgumentError(absl::StrCat("KV cache slot ", s, " appears twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace lmeye
