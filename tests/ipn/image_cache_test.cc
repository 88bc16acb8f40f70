#include "model/ipn/image_cache.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace lmeye {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 3) % 256);
  return s;
}

// Expected values from Python's hashlib.blake2b(data, digest_size=32).hexdigest(). The lengths
// cover the block edges: empty, short, exactly one block, one byte over, two blocks, several.
TEST(ImageCacheHash, MatchesBlake2bReference) {
  EXPECT_EQ(HashImageBytes("").ToHex(),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(HashImageBytes("abc").ToHex(),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(HashImageBytes(Pattern(128)).ToHex(),
            "f0501d06597880592bc49234eef100ec1ff349058d0e9d9b753504e24af86dd6");
  EXPECT_EQ(HashImageBytes(Pattern(129)).ToHex(),
            "a34a4e1e03c541dfbf3099c4b6c143c022ced65c28bd7e8a10e0a098461aecf0");
  EXPECT_EQ(HashImageBytes(Pattern(256)).ToHex(),
            "d93ebb9c802f5630ab22516fd82b6c21bc8bd551d531349b715f046ed11ed871");
  EXPECT_EQ(HashImageBytes(Pattern(1000)).ToHex(),
            "d62b6c768ce1afc8367e0498ab2f8e3f7c178c35b1429f14c4604b545d200f52");
}

TEST(ImageCacheHash, OneBitChangesTheDigest) {
  std::string a = Pattern(5000);
  std::string b = a;
  b[4321] ^= 1;
  EXPECT_NE(HashImageBytes(a), HashImageBytes(b));
  EXPECT_EQ(HashImageBytes(a), HashImageBytes(std::string(a)));
}

// A photo of a few MB must hash in milliseconds next to its decode; prints the rate. The bound
// is loose (a shared, slow CI core); a portable BLAKE2b does several hundred MB/s at -O2.
TEST(ImageCacheHash, Throughput) {
  const std::string data = Pattern(8 << 20);
  const auto start = std::chrono::steady_clock::now();
  const ImageDigest d = HashImageBytes(data);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("BLAKE2b-256: %.0f MB/s (%s...)\n", data.size() / s / 1e6,
              d.ToHex().substr(0, 8).c_str());
  EXPECT_LT(s, 2.0);
}

ImageDigest Key(int i) { return HashImageBytes("image-" + std::to_string(i)); }

// Features whose h_I holds `n_floats` floats filled with `value` (4 bytes each).
ImageFeatures Features(float value, int64_t n_floats = 4) {
  ImageFeatures f;
  f.h_I = at::full({n_floats}, value, at::kFloat);
  return f;
}

float ValueOf(const std::optional<ImageFeatures>& f) { return f->h_I[0].item<float>(); }

TEST(ImageCache, HitReturnsInsertedTensorAndCounts) {
  ImageFeatureCache cache({/*max_entries=*/4, /*max_bytes=*/0});
  EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
  ASSERT_TRUE(cache.Insert(Key(1), Features(1.5f)));
  auto hit = cache.Lookup(Key(1));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(ValueOf(hit), 1.5f);
  EXPECT_FALSE(hit->h_img.defined());
  const ImageCacheStats s = cache.stats();
  EXPECT_EQ(s.queries, 2u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.insertions, 1u);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes, 16);
}

TEST(ImageCache, EvictsLeastRecentlyUsed) {
  ImageFeatureCache cache({/*max_entries=*/3, /*max_bytes=*/0});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache.Insert(Key(i), Features(i)));
  ASSERT_TRUE(cache.Lookup(Key(0)).has_value());   // order now (newest first) 0, 2, 1
  ASSERT_TRUE(cache.Insert(Key(3), Features(3)));  // evicts 1
  EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
  EXPECT_TRUE(cache.Lookup(Key(0)).has_value());
  EXPECT_TRUE(cache.Lookup(Key(2)).has_value());
  EXPECT_TRUE(cache.Lookup(Key(3)).has_value());
  ASSERT_TRUE(cache.Insert(Key(4), Features(4)));  // evicts 0 (2, then 3, were used after it)
  EXPECT_FALSE(cache.Lookup(Key(0)).has_value());
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(ImageCache, ReplacingKeepsOneEntry) {
  ImageFeatureCache cache({/*max_entries=*/2, /*max_bytes=*/0});
  ASSERT_TRUE(cache.Insert(Key(1), Features(1, 4)));
  ASSERT_TRUE(cache.Insert(Key(2), Features(2, 4)));
  ASSERT_TRUE(cache.Insert(Key(1), Features(10, 8)));  // replaces and makes 1 the newest
  EXPECT_EQ(cache.stats().entries, 2);
  EXPECT_EQ(cache.stats().bytes, 16 + 32);
  EXPECT_EQ(cache.stats().evictions, 0u);
  ASSERT_TRUE(cache.Insert(Key(3), Features(3)));  // evicts 2, not 1
  EXPECT_EQ(ValueOf(cache.Lookup(Key(1))), 10.0f);
  EXPECT_FALSE(cache.Lookup(Key(2)).has_value());
}

TEST(ImageCache, ByteBudget) {
  // 100 bytes: room for two 40-byte entries (10 floats each), not three.
  ImageFeatureCache cache({/*max_entries=*/100, /*max_bytes=*/100});
  ASSERT_TRUE(cache.Insert(Key(1), Features(1, 10)));
  ASSERT_TRUE(cache.Insert(Key(2), Features(2, 10)));
  ASSERT_TRUE(cache.Insert(Key(3), Features(3, 10)));
  EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
  EXPECT_EQ(cache.stats().bytes, 80);
  // A 60-byte entry pushes out both older ones: 40 + 40 + 60 > 100, 40 + 60 = 100.
  ASSERT_TRUE(cache.Insert(Key(4), Features(4, 15)));
  EXPECT_EQ(cache.stats().entries, 2);
  EXPECT_FALSE(cache.Lookup(Key(2)).has_value());
  EXPECT_TRUE(cache.Lookup(Key(3)).has_value());
  // Larger than the whole budget: refused, nothing evicted.
  EXPECT_FALSE(cache.Insert(Key(5), Features(5, 26)));
  EXPECT_EQ(cache.stats().entries, 2);
  EXPECT_EQ(cache.stats().bytes, 100);
}

TEST(ImageCache, ViewsAreChargedTheirWholeStorage) {
  ImageFeatures f;
  at::Tensor batch = at::zeros({8, 16}, at::kFloat);
  f.h_I = batch[3];
  EXPECT_EQ(f.StorageBytes(), 8 * 16 * 4);
  f.h_I = batch[3].clone();
  f.h_f = at::zeros({5, 6}, at::kFloat);
  EXPECT_EQ(f.StorageBytes(), 16 * 4 + 30 * 4);
}

TEST(ImageCache, DisabledAndInvalid) {
  ImageFeatureCache off({/*max_entries=*/0, /*max_bytes=*/0});
  EXPECT_FALSE(off.Insert(Key(1), Features(1)));
  EXPECT_FALSE(off.Lookup(Key(1)).has_value());
  EXPECT_EQ(off.stats().queries, 1u);

  ImageFeatureCache cache({4, 0});
  EXPECT_FALSE(cache.Insert(Key(1), ImageFeatures{}));  // no h_I

  ImageCacheOptions bad{4, -1};
  const absl::Status s = bad.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("image_cache.max_bytes"), std::string::npos);
  EXPECT_EQ((ImageCacheOptions{-1, 0}.Validate().code()), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ImageCacheOptions{}.Validate().ok());
}

TEST(ImageCache, ClearKeepsCounters) {
  ImageFeatureCache cache({4, 0});
  cache.Insert(Key(1), Features(1));
  cache.Lookup(Key(1));
  cache.Clear();
  EXPECT_FALSE(cache.Lookup(Key(1)).has_value());
  const ImageCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0);
  EXPECT_EQ(s.bytes, 0);
  EXPECT_EQ(s.queries, 2u);
  EXPECT_EQ(s.hits, 1u);
}

// Readers and writers at once: every hit must return the value stored under its key, and the
// counters and budgets must add up afterwards (run under TSan to check the locking).
TEST(ImageCache, ConcurrentLookupsAndInserts) {
  constexpr int kThreads = 6;
  constexpr int kOps = 2000;
  constexpr int kKeys = 40;
  ImageFeatureCache cache({/*max_entries=*/16, /*max_bytes=*/16 * 16});
  std::vector<ImageDigest> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(Key(i));
  std::atomic<int> wrong{0};
  std::atomic<uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const int k = (i * 7 + t * 13) % kKeys;
        if ((i + t) % 3 == 0) {
          cache.Insert(keys[k], Features(static_cast<float>(k)));
        } else if (auto f = cache.Lookup(keys[k])) {
          ++hits;
          if (ValueOf(f) != static_cast<float>(k)) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const ImageCacheStats s = cache.stats();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(s.hits, hits.load());
  EXPECT_GT(s.hits, 0u);
  EXPECT_LE(s.entries, 16);
  EXPECT_LE(s.bytes, 16 * 16);
  EXPECT_EQ(s.bytes, s.entries * 16);
  EXPECT_EQ(s.queries + s.insertions, static_cast<uint64_t>(kThreads * kOps));
}

}  // namespace
}  // namespace lmeye
