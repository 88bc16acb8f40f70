#include "model/ipn/image_cache.h"

#include <cstring>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lmeye {
namespace {

// --- BLAKE2b (RFC 7693), unkeyed, 32-byte digest. ---

constexpr uint64_t kBlake2bIv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

constexpr uint8_t kSigma[12][16] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
                                    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
                                    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
                                    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
                                    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
                                    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
                                    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
                                    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
                                    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
                                    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
                                    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
                                    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

inline uint64_t Rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

inline uint64_t Load64Le(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

// Compresses one 128-byte block; `t` is the byte count so far including this block.
void Blake2bCompress(uint64_t h[8], const uint8_t block[128], uint64_t t, bool last) {
  uint64_t m[16];
  for (int i = 0; i < 16; ++i) m[i] = Load64Le(block + 8 * i);
  uint64_t v[16];
  for (int i = 0; i < 8; ++i) {
    v[i] = h[i];
    v[i + 8] = kBlake2bIv[i];
  }
  v[12] ^= t;  // the high word of the 128-bit counter stays 0: inputs are below 2^64 bytes
  if (last) v[14] = ~v[14];
  auto g = [&v](int a, int b, int c, int d, uint64_t x, uint64_t y) {
    v[a] = v[a] + v[b] + x;
    v[d] = Rotr64(v[d] ^ v[a], 32);
    v[c] = v[c] + v[d];
    v[b] = Rotr64(v[b] ^ v[c], 24);
    v[a] = v[a] + v[b] + y;
    v[d] = Rotr64(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = Rotr64(v[b] ^ v[c], 63);
  };
  for (int r = 0; r < 12; ++r) {
    const uint8_t* s = kSigma[r];
    g(0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
}

}  // namespace

ImageDigest HashImageBytes(absl::string_view data) {
  constexpr int kOutLen = 32;
  uint64_t h[8];
  for (int i = 0; i < 8; ++i) h[i] = kBlake2bIv[i];
  h[0] ^= 0x01010000ULL ^ kOutLen;  // parameter block: depth 1, fanout 1, no key
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  uint64_t t = 0;
  // Every full block except the last one of the input (which gets the final flag).
  while (n > 128) {
    t += 128;
    Blake2bCompress(h, p, t, /*last=*/false);
    p += 128;
    n -= 128;
  }
  uint8_t block[128] = {};
  if (n > 0) std::memcpy(block, p, n);
  t += n;
  Blake2bCompress(h, block, t, /*last=*/true);
  ImageDigest d;
  for (int i = 0; i < kOutLen; ++i) d.bytes[i] = static_cast<uint8_t>(h[i / 8] >> (8 * (i % 8)));
  return d;
}

std::string ImageDigest::ToHex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

size_t ImageDigestHash::operator()(const ImageDigest& d) const {
  size_t v;
  std::memcpy(&v, d.bytes.data(), sizeof(v));
  return v;
}

int64_t ImageFeatures::StorageBytes() const {
  int64_t total = 0;
  for (const at::Tensor* t : {&h_I, &h_img, &h_f}) {
    if (t->defined()) total += static_cast<int64_t>(t->storage().nbytes());
  }
  return total;
}

absl::Status ImageCacheOptions::Validate() const {
  if (max_entries < 0) {
    return absl::InvalidArgumentError("image_cache.max_entries: must be >= 0 (0 disables)");
  }
  if (max_bytes < 0) {
    return absl::InvalidArgumentError("image_cache.max_bytes: must be >= 0 (0 means no limit)");
  }
  return absl::OkStatus();
}

ImageFeatureCache::ImageFeatureCache(const ImageCacheOptions& options)
    : options_(options.Validate().ok() ? options : ImageCacheOptions{0, 0}) {}

std::optional<ImageFeatures> ImageFeatureCache::Lookup(const ImageDigest& key) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.queries;
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->features;
}

bool ImageFeatureCache::Insert(const ImageDigest& key, ImageFeatures features) {
  if (options_.max_entries == 0 || !features.h_I.defined()) return false;
  const int64_t bytes = features.StorageBytes();
  if (options_.max_bytes > 0 && bytes > options_.max_bytes) return false;
  // Tensors are released outside the lock: freeing device memory can take a while.
  ImageFeatures replaced;
  EntryList evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      // Two requests with the same image can both miss and both insert: keep the newer value.
      Entry& e = *it->second;
      stats_.bytes += bytes - e.bytes;
      replaced = std::exchange(e.features, std::move(features));
      e.bytes = bytes;
      lru_.splice(lru_.begin(), lru_, it->second);
    } else {
      lru_.push_front(Entry{key, std::move(features), bytes});
      index_.emplace(key, lru_.begin());
      stats_.bytes += bytes;
      ++stats_.entries;
    }
    ++stats_.insertions;
    EvictLocked(&evicted);
  }
  return true;
}

void ImageFeatureCache::EvictLocked(EntryList* evicted) {
  while (!lru_.empty() && (stats_.entries > options_.max_entries ||
                           (options_.max_bytes > 0 && stats_.bytes > options_.max_bytes))) {
    const Entry& victim = lru_.back();
    stats_.bytes -= victim.bytes;
    --stats_.entries;
    ++stats_.evictions;
    index_.erase(victim.key);
    evicted->splice(evicted->begin(), lru_, std::prev(lru_.end()));
  }
}

void ImageFeatureCache::Clear() {
  EntryList dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(lru_);
    index_.clear();
    stats_.entries = 0;
    stats_.bytes = 0;
  }
}

ImageCacheStats ImageFeatureCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace lmeye
