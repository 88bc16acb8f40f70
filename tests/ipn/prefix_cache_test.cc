// The prefix cache alone: longest shared prefix within bounds, keyed by image, entries covering
// others replace them, least-recently-used eviction releasing KV slots.
#include <vector>

#include <gtest/gtest.h>

#include "model/ipn/image_cache.h"
#include "model/ipn/prefix_cache.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_config.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

TEST(PrefixCacheTest, FindsTheLongestSharedPrefixAndEvictsLeastRecent) {
  absl::StatusOr<LlmConfig> config = LoadLlmConfig(testing::TestData("models/opt-tiny"));
  ASSERT_TRUE(config.ok()) << config.status();
  auto kv = KvCache::Create(*config, 4, 32, at::kFloat, at::kCPU);
  ASSERT_TRUE(kv.ok()) << kv.status();
  KvCache& cache = **kv;
  PrefixCache prefixes(&cache, 2);
  ImageDigest cat = HashImageBytes("cat"), dog = HashImageBytes("dog");
  // A slot "holding" n positions: only lengths matter to the prefix cache.
  auto slot_with = [&](int n) {
    int slot = *cache.Allocate();
    cache.SetLength(slot, n);
    return slot;
  };
  const std::vector<int64_t> a = {2, kImagePositionKey, 10, 11, 12, 13};
  prefixes.Insert(slot_with(6), true, cat, a);
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_EQ(cache.n_free(), 3);
  // Longest shared prefix, capped by max_positions, refused under min_positions.
  auto match = prefixes.Lookup(true, cat, {2, kImagePositionKey, 10, 11, 99}, 2, 100);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->n_positions, 4);
  EXPECT_EQ(prefixes.Lookup(true, cat, a, 2, 5)->n_positions, 5);
  EXPECT_FALSE(prefixes.Lookup(true, cat, {2, kImagePositionKey, 77}, 3, 100).has_value());
  // Another image, or none, shares nothing.
  EXPECT_FALSE(prefixes.Lookup(true, dog, a, 1, 100).has_value());
  EXPECT_FALSE(prefixes.Lookup(false, cat, a, 1, 100).has_value());
  // A longer entry covering `a` replaces it; the same keys again keep the existing entry.
  std::vector<int64_t> longer = a;
  longer.push_back(14);
  prefixes.Insert(slot_with(9), true, cat, longer);  // truncated to its 7 keys
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_EQ(cache.n_free(), 3);
  prefixes.Insert(slot_with(7), true, cat, a);
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_EQ(prefixes.Lookup(true, cat, longer, 1, 100)->n_positions, 7);
  // Beyond max_entries the least recent goes, and EvictUntilFree releases slots.
  prefixes.Insert(slot_with(3), true, dog, {2, kImagePositionKey, 5});
  prefixes.Insert(slot_with(3), false, ImageDigest{}, {2, 5, 6});
  EXPECT_EQ(prefixes.size(), 2);
  EXPECT_FALSE(prefixes.Lookup(true, cat, longer, 1, 100).has_value());
  EXPECT_EQ(cache.n_free(), 2);
  prefixes.EvictUntilFree(3);
  EXPECT_EQ(prefixes.size(), 1);
  EXPECT_TRUE(prefixes.Lookup(false, ImageDigest{}, {2, 5, 6, 7}, 1, 100).has_value());
  prefixes.Clear();
  EXPECT_EQ(cache.n_free(), 4);
}

}  // namespace
}  // namespace lmeye
