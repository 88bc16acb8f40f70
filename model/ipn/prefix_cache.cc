#include "model/ipn/prefix_cache.h"

#include <algorithm>
#include <utility>

namespace lmeye {

std::optional<PrefixCache::Match> PrefixCache::Lookup(bool has_image, const ImageDigest& digest,
                                                      const std::vector<int64_t>& keys,
                                                      int min_positions, int max_positions) {
  EntryList::iterator best = entries_.end();
  int best_n = 0;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->has_image != has_image || (has_image && it->digest != digest)) continue;
    const size_t limit = std::min(it->keys.size(), keys.size());
    size_t n = 0;
    while (n < limit && it->keys[n] == keys[n]) ++n;
    const int usable = std::min(static_cast<int>(n), max_positions);
    if (usable > best_n) {
      best_n = usable;
      best = it;
    }
  }
  if (best == entries_.end() || best_n < min_positions) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, best);
  return Match{best->slot, best_n};
}

void PrefixCache::Insert(int slot, bool has_image, const ImageDigest& digest,
                         std::vector<int64_t> keys) {
  const int n = static_cast<int>(keys.size());
  if (!enabled() || n == 0 || cache_->length(slot) < n || !cache_->Truncate(slot, n).ok()) {
    cache_->Release(slot).IgnoreError();
    return;
  }
  auto same_image = [&](const Entry& e) {
    return e.has_image == has_image && (!has_image || e.digest == digest);
  };
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (same_image(*it) && it->keys.size() >= keys.size() &&
        std::equal(keys.begin(), keys.end(), it->keys.begin())) {
      // An entry already holds all of it (the same prompt again): keep that one.
      cache_->Release(slot).IgnoreError();
      entries_.splice(entries_.begin(), entries_, it);
      return;
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool covered = same_image(*it) && it->keys.size() <= keys.size() &&
                         std::equal(it->keys.begin(), it->keys.end(), keys.begin());
    if (covered) {
      auto next = std::next(it);
      Drop(it);
      it = next;
    } else {
      ++it;
    }
  }
  entries_.push_front(Entry{slot, has_image, digest, std::move(keys)});
  while (static_cast<int>(entries_.size()) > max_entries_) Drop(std::prev(entries_.end()));
}

void PrefixCache::EvictUntilFree(int n_free) {
  while (cache_->n_free() < n_free && !entries_.empty()) Drop(std::prev(entries_.end()));
}

void PrefixCache::Clear() {
  while (!entries_.empty()) Drop(entries_.begin());
}

void PrefixCache::Drop(EntryList::iterator it) {
  cache_->Release(it->slot).IgnoreError();
  entries_.erase(it);
}

}  // namespace lmeye
