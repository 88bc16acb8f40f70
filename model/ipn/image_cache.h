// The image feature cache: the vision tower's output for an image, keyed by the image's bytes,
// so that a chat's later turns and repeated requests do not re-encode it (docs/DESIGN.md
// section 3).
//
// Key: a 256-bit BLAKE2b digest of the encoded image bytes (ImageDigest). A key collision would
// silently answer about another image, possibly another user's, so the hash is cryptographic:
// nobody can craft bytes that collide with a popular image, which a fast non-cryptographic hash
// (xxHash, absl::Hash) would allow. BLAKE2b over SHA-256 because portable BLAKE2b is about
// three times faster; a few hundred MB/s is small next to decoding the image.
//
// One cache per model replica: the features depend on the vision tower and the preprocessing,
// and the key does not record them.
//
// Threading: every method may be called from any thread (one mutex; RPC threads look up while
// the scheduler inserts). Values are shared, not copied: a Lookup returns tensor handles to the
// cached storage, so nobody may modify a cached tensor in place.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// A 256-bit content digest. Equal digests mean equal bytes, for all practical purposes.
struct ImageDigest {
  std::array<uint8_t, 32> bytes{};

  std::string ToHex() const;
  bool operator==(const ImageDigest& o) const { return bytes == o.bytes; }
  bool operator!=(const ImageDigest& o) const { return bytes != o.bytes; }
};

struct ImageDigestHash {
  // The digest is uniformly random already: its first 8 bytes are a good bucket hash.
  size_t operator()(const ImageDigest& d) const;
};

// BLAKE2b-256 (RFC 7693, unkeyed) of `data`. Same value in every process and on every machine,
// so a digest may also key a cache shared across replicas or a prefix cache.
ImageDigest HashImageBytes(absl::string_view data);

// What the engine keeps per image. Only `h_I` is required; the others are for an engine that
// caches more of the per-image work. Undefined tensors cost nothing.
struct ImageFeatures {
  at::Tensor h_I;    // [d_v] the vision feature (pooled or projected)
  at::Tensor h_img;  // [d_L] ipn.img_token + align(h_I), optional
  at::Tensor h_f;    // [K, d_t] reshape(decompose(h_I)), optional

  // Bytes of storage these tensors keep alive (a view is charged its whole storage; insert
  // compact copies, e.g. row.clone(), not rows of a batch tensor).
  int64_t StorageBytes() const;
};

struct ImageCacheOptions {
  int64_t max_entries = 1024;            // 0 disables the cache
  int64_t max_bytes = int64_t{1} << 28;  // 0 means no byte budget (max_entries still bounds it)

  absl::Status Validate() const;  // InvalidArgument naming the field ("image_cache.max_bytes")
};

// Counters for Prometheus (lmeye_image_cache_queries_total / _hits_total...), monotonic except
// entries and bytes.
struct ImageCacheStats {
  uint64_t queries = 0;
  uint64_t hits = 0;
  uint64_t insertions = 0;
  uint64_t evictions = 0;  // entries dropped to make room (not replacements)
  int64_t entries = 0;
  int64_t bytes = 0;
};

// Least-recently-used cache of ImageFeatures. A Lookup hit makes the entry the most recent.
class ImageFeatureCache {
 public:
  // Options must be valid (Validate()); invalid values are clamped to a disabled cache.
  explicit ImageFeatureCache(const ImageCacheOptions& options);

  ImageFeatureCache(const ImageFeatureCache&) = delete;
  ImageFeatureCache& operator=(const ImageFeatureCache&) = delete;

  // The cached features, or nullopt. Counts a query, and a hit when found.
  std::optional<ImageFeatures> Lookup(const ImageDigest& key);

  // Inserts or replaces `key`, as the most recent entry, and evicts least-recently-used entries
  // until both budgets hold. Returns false (and stores nothing) when the cache is disabled or
  // the value alone exceeds max_bytes. `features.h_I` must be defined.
  bool Insert(const ImageDigest& key, ImageFeatures features);

  // Drops every entry; counters are kept.
  void Clear();

  ImageCacheStats stats() const;
  const ImageCacheOptions& options() const { return options_; }

 private:
  struct Entry {
    ImageDigest key;
    ImageFeatures features;
    int64_t bytes;
  };
  using EntryList = std::list<Entry>;  // most recent first

  // Requires mu_. Moves least-recently-used entries to `evicted` until both budgets hold.
  void EvictLocked(EntryList* evicted);

  const ImageCacheOptions options_;
  mutable std::mutex mu_;
  EntryList lru_;                                                                // guarded by mu_
  std::unordered_map<ImageDigest, EntryList::iterator, ImageDigestHash> index_;  // guarded by mu_
  ImageCacheStats stats_;                                                        // guarded by mu_
};

}  // namespace lmeye
