// The prefix cache of one engine (docs/DESIGN.md section 3): finished requests leave their KV slot
// behind, so that a later request whose prompt starts with the same positions (a chat's next
// turn: the same image and the earlier turns' text; or another question about the same image)
// copies those positions instead of computing them.
//
// Key: the image digest (or no image) and the ids at every position: P, the image position, X,
// then, for a sequence without the <img-d> slot (IPN*, text-only), the tokens it generated.
// The keys and values of a position depend only on the positions up to it, so any common prefix
// of keys is a common prefix of KV. An interactive sequence's <img-d> position and what follows
// it (the second pass) are never kept: a new prompt has text where the old one had the slot.
//
// Slots: entries hold KV slots that no admitted request has reserved; the engine's owner (the
// scheduler) evicts least-recently-used entries (releasing their slots) whenever an admitted
// request needs one (IpnEngine::EvictCachedPrefixesUntilFree). So the cache only ever uses slots
// that would otherwise be idle.
//
// Threading: the engine's thread, like the KV cache it borrows.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "model/ipn/image_cache.h"
#include "model/llm/kv_cache.h"

namespace lmeye {

// The position key of the image position (ids are >= 0).
inline constexpr int64_t kImagePositionKey = -1;

class PrefixCache {
 public:
  // `cache` must outlive the prefix cache. max_entries 0 disables it.
  PrefixCache(KvCache* cache, int max_entries) : cache_(cache), max_entries_(max_entries) {}
  ~PrefixCache() { Clear(); }

  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  bool enabled() const { return max_entries_ > 0; }
  int size() const { return static_cast<int>(entries_.size()); }

  struct Match {
    int slot = -1;  // an entry's slot: copy it, never keep or modify it
    int n_positions = 0;
  };
  // The entry sharing the longest prefix (at least `min_positions`, at most `max_positions`)
  // with `keys`, made the most recent. has_image/digest must match too.
  std::optional<Match> Lookup(bool has_image, const ImageDigest& digest,
                              const std::vector<int64_t>& keys, int min_positions,
                              int max_positions);

  // Takes over `slot` (in use) holding at least keys.size() positions: truncates it to them and
  // keeps it as the most recent entry. Entries whose keys are a prefix of `keys` are dropped
  // (the new one serves them), and the least recent beyond max_entries. The slot is released
  // instead when the cache is disabled, `keys` is empty or an entry already holds all of it.
  void Insert(int slot, bool has_image, const ImageDigest& digest, std::vector<int64_t> keys);

  // Releases least-recently-used entries until the KV cache has `n_free` free slots (or the
  // prefix cache is empty).
  void EvictUntilFree(int n_free);
  void Clear();

 private:
  struct Entry {
    int slot;
    bool has_image;
    ImageDigest digest;
    std::vector<int64_t> keys;
  };
  using EntryList = std::list<Entry>;  // most recent first

  void Drop(EntryList::iterator it);

  KvCache* cache_;
  int max_entries_;
  EntryList entries_;
};

}  // namespace lmeye
