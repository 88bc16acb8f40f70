#include "model/train/data_order.h"

#include <algorithm>
#include <random>
#include <utility>

namespace lmeye {

std::vector<int> EpochOrder(int64_t n, uint64_t seed, int64_t epoch, int64_t group_batch,
                            const std::function<int64_t(int64_t)>& length) {
  std::vector<int> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  }
  if (group_batch <= 0 || n <= group_batch) return order;

  std::vector<int64_t> lengths(n);
  for (int64_t i = 0; i < n; ++i) lengths[i] = length(i);
  const int64_t window = kLengthGroupBatches * group_batch;
  // The trainer's batches run on across epochs: where n is not a multiple of the batch, this
  // epoch's first whole batch starts `start` positions in (the ones before it finish the last
  // epoch's batch), and the windows must line up with the batches.
  const int64_t start = (group_batch - (epoch * n) % group_batch) % group_batch;
  std::vector<int> sorted;
  for (int64_t begin = start; begin < n; begin += window) {
    const int64_t end = std::min(n, begin + window);
    auto first = order.begin() + begin;
    auto last = order.begin() + end;
    std::stable_sort(first, last, [&](int a, int b) { return lengths[a] > lengths[b]; });
    // Shuffle whole batches, not examples: a batch keeps its similar lengths. A short last
    // batch of the epoch stays last, so that every other batch is full.
    const int64_t n_batches = (end - begin) / group_batch;
    std::vector<int64_t> batches(n_batches);
    for (int64_t b = 0; b < n_batches; ++b) batches[b] = b;
    for (int64_t b = n_batches - 1; b > 0; --b) {
      std::swap(batches[b], batches[rng() % static_cast<uint64_t>(b + 1)]);
    }
    sorted.assign(first, last);
    for (int64_t b = 0; b < n_batches; ++b) {
      std::copy_n(sorted.begin() + batches[b] * group_batch, group_batch, first + b * group_batch);
    }
  }
  return order;
}

}  // namespace lmeye
