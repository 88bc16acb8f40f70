// The order in which the trainer visits the examples: one seeded permutation per epoch, and
// optionally grouped by length so that a batch's sequences pad to about the same length.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace lmeye {

// Examples per mega-batch, in batches: the window within which grouping sorts by length
// (Hugging Face's LengthGroupedSampler uses 50 too). Wide enough that a batch's lengths are
// close, narrow enough that every stretch of training still sees the whole data's mix.
inline constexpr int64_t kLengthGroupBatches = 50;

// A permutation of 0..n-1 for `epoch`: Fisher-Yates over mt19937_64 seeded with
// (seed, epoch), our own so that the order survives a resumed run and another standard library.
//
// With `group_batch` > 0 (the global batch) the permutation is then grouped by length: every
// window of kLengthGroupBatches * group_batch positions is sorted by `length` (longest first,
// ties in permutation order) and cut into batches of group_batch, and the order of those
// batches within the window is shuffled by the same generator. Each batch then holds examples
// of similar length (far less padding) while which examples share a batch, and when a batch
// comes, stay random. Windows start at the epoch's first batch boundary (batches run on across
// epochs: the trainer takes positions k .. k + group_batch - 1 of the endless sequence of
// epochs). `length` is only called when grouping.
std::vector<int> EpochOrder(int64_t n, uint64_t seed, int64_t epoch, int64_t group_batch,
                            const std::function<int64_t(int64_t)>& length);

}  // namespace lmeye
