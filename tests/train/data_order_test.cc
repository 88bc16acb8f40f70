// The trainer's example order (model/train/data_order.h): the plain permutation stays what
// resumed runs were made with, and grouping by length cuts padding while keeping the data.
#include "model/train/data_order.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace lmeye {
namespace {

// Lengths like the demo's instruct mix: mostly short answers, a third long matching lines.
int64_t MixedLength(int64_t i) { return i % 3 == 0 ? 40 + i % 7 : 12 + i % 5; }

// Padded positions of the batches [k, k + batch) of the endless sequence of epochs.
int64_t PaddedPositions(int64_t n, int64_t batch, int64_t epochs, bool grouped) {
  std::vector<int> seq;
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<int> o = EpochOrder(n, 7, e, grouped ? batch : 0, MixedLength);
    seq.insert(seq.end(), o.begin(), o.end());
  }
  int64_t padded = 0;
  for (size_t k = 0; k + batch <= seq.size(); k += batch) {
    int64_t longest = 0;
    for (int64_t i = 0; i < batch; ++i) longest = std::max(longest, MixedLength(seq[k + i]));
    padded += longest * batch;
  }
  return padded;
}

bool IsPermutation(std::vector<int> order, int64_t n) {
  std::vector<int> want(n);
  std::iota(want.begin(), want.end(), 0);
  std::sort(order.begin(), order.end());
  return order == want;
}

TEST(DataOrderTest, PlainOrderIsTheSeededPermutation) {
  // The order every run before group_by_length used (and a resumed run must repeat): pinned.
  const std::vector<int> o = EpochOrder(10, 3, 0, 0, MixedLength);
  ASSERT_TRUE(IsPermutation(o, 10));
  EXPECT_EQ(o, EpochOrder(10, 3, 0, 0, MixedLength));
  EXPECT_NE(o, EpochOrder(10, 3, 1, 0, MixedLength));
  EXPECT_NE(o, EpochOrder(10, 4, 0, 0, MixedLength));
  const std::vector<int> pinned = {8, 3, 9, 4, 7, 0, 5, 6, 1, 2};
  EXPECT_EQ(o, pinned);
}

TEST(DataOrderTest, GroupedOrderKeepsEveryExampleAndIsDeterministic) {
  for (int64_t n : {1, 31, 32, 33, 1000, 5000}) {
    const std::vector<int> o = EpochOrder(n, 11, 2, 32, MixedLength);
    EXPECT_TRUE(IsPermutation(o, n)) << n;
    EXPECT_EQ(o, EpochOrder(n, 11, 2, 32, MixedLength)) << n;
  }
  EXPECT_NE(EpochOrder(5000, 11, 2, 32, MixedLength), EpochOrder(5000, 11, 3, 32, MixedLength));
}

TEST(DataOrderTest, GroupingCutsPaddingAcrossEpochs) {
  // 5000 is not a multiple of 32: from the second epoch on, batches straddle the epoch start,
  // and the windows must follow them.
  const int64_t plain = PaddedPositions(5000, 32, 3, false);
  const int64_t grouped = PaddedPositions(5000, 32, 3, true);
  int64_t real = 0;
  for (int64_t i = 0; i < 5000; ++i) real += MixedLength(i);
  real *= 3;
  // Nearly every plain batch holds a long line; grouped batches pad little.
  EXPECT_GT(plain * 10, real * 18);
  EXPECT_LT(grouped, real * 11 / 10);
}

TEST(DataOrderTest, GroupedBatchesStillMixTheData) {
  // Long and short batches alternate at random: not all the long ones first.
  const int64_t batch = 32;
  const std::vector<int> o = EpochOrder(32 * 150, 5, 0, batch, MixedLength);
  std::vector<bool> long_batch;
  for (size_t k = 0; k + batch <= o.size(); k += batch) {
    long_batch.push_back(MixedLength(o[k + batch - 1]) >= 40);
  }
  const auto n_long = std::count(long_batch.begin(), long_batch.end(), true);
  EXPECT_NEAR(n_long, 48, 4);  // a third of the batches, less one mixed per window
  // In the first window's 50 batches the long ones are not simply the first 17.
  EXPECT_FALSE(std::all_of(long_batch.begin(), long_batch.begin() + 16, [](bool b) { return b; }));
}

}  // namespace
}  // namespace lmeye
