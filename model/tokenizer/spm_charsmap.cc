#include "model/tokenizer/spm_charsmap.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// A Darts-clone unit (darts.h DoubleArrayUnit): bit 31 marks a leaf, whose low 31 bits are the
// value; otherwise bits 0-7 are the label, bit 8 says a leaf hangs below (at label 0), and bits
// 10-31 the offset to the children, shifted left by 8 more when bit 9 is set.
bool HasLeaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
uint32_t Value(uint32_t unit) { return unit & ((1U << 31) - 1); }
uint32_t Label(uint32_t unit) { return unit & ((1U << 31) | 0xFF); }
uint32_t Offset(uint32_t unit) { return (unit >> 10) << ((unit & (1U << 9)) >> 6); }

uint32_t ReadLittleEndian32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
         static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
}

absl::Status BlobError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("precompiled_charsmap is broken: ", what));
}

}  // namespace

absl::StatusOr<SpmCharsMap> SpmCharsMap::Create(absl::string_view blob) {
  // The library's DecodePrecompiledCharsMap, with the bound it misses: it compares trie_size
  // with the whole blob, header included, so a trie could overrun the blob by 4 bytes.
  if (blob.size() <= 4) return BlobError("shorter than its header");
  const uint32_t trie_size = ReadLittleEndian32(blob.data());
  blob.remove_prefix(4);
  if (trie_size > blob.size()) {
    return BlobError(absl::StrCat("trie of ", trie_size, " bytes in a blob of ", blob.size()));
  }
  // Like the library, a trailing partial unit is ignored.
  const size_t n_units = trie_size / 4;
  if (n_units == 0) return BlobError("empty trie");
  SpmCharsMap map;
  map.units_.resize(n_units);
  for (size_t i = 0; i < n_units; ++i) map.units_[i] = ReadLittleEndian32(blob.data() + 4 * i);
  map.replacements_ = std::string(blob.substr(trie_size));
  LMEYE_RETURN_IF_ERROR(map.Validate());
  return map;
}

absl::Status SpmCharsMap::Validate() const {
  // Depth first over every unit reachable from the root, probing all 256 labels at each node:
  // what commonPrefixSearch can reach on any input. Darts-clone shares common suffixes (it is
  // built from a DAWG), so a unit may have several parents; a cycle is never built, and is
  // refused because the matches along a path would be unbounded. Post-order, each node gets the
  // most keys ending strictly below it on one path.
  enum State : uint8_t { kNew, kOpen, kDone };
  struct Frame {
    uint32_t unit;
    uint32_t next_label;  // the next label to probe
  };
  const size_t n = units_.size();
  std::vector<State> state(n, kNew);
  std::vector<int> most_below(n, 0);
  std::vector<Frame> stack = {{0, 0}};
  state[0] = kOpen;
  while (!stack.empty()) {
    Frame& frame = stack.back();
    if (frame.next_label == 256) {
      state[frame.unit] = kDone;
      stack.pop_back();
      continue;
    }
    const uint32_t label = frame.next_label;
    const uint32_t child = (frame.unit ^ Offset(units_[frame.unit])) ^ label;
    if (child >= n || Label(units_[child]) != label) {
      ++frame.next_label;
      continue;
    }
    if (state[child] == kOpen) return BlobError(absl::StrCat("a cycle through unit ", child));
    if (state[child] == kNew) {
      if (HasLeaf(units_[child])) {
        const uint32_t leaf = child ^ Offset(units_[child]);
        if (leaf >= n) return BlobError(absl::StrCat("leaf unit ", leaf, " out of range"));
        const uint32_t value = Value(units_[leaf]);
        if (value >= replacements_.size() || std::memchr(replacements_.data() + value, '\0',
                                                         replacements_.size() - value) == nullptr) {
          return BlobError(absl::StrCat("replacement at ", value, " outside the strings (",
                                        replacements_.size(), " bytes) or not terminated"));
        }
      }
      state[child] = kOpen;
      // `frame` dangles from here on; this label is probed again once the child is done.
      stack.push_back({child, 0});
      continue;
    }
    // A finished child: fold its count into the parent.
    ++frame.next_label;
    const int through_child = most_below[child] + (HasLeaf(units_[child]) ? 1 : 0);
    most_below[frame.unit] = std::max(most_below[frame.unit], through_child);
    if (most_below[frame.unit] > kMaxPrefixMatches) {
      return BlobError(absl::StrCat("more than ", kMaxPrefixMatches, " keys along one path"));
    }
  }
  return absl::OkStatus();
}

size_t SpmCharsMap::LongestPrefix(absl::string_view input, absl::string_view* replacement) const {
  // Darts' commonPrefixSearch from the root, keeping the last (longest) match.
  const size_t n = units_.size();
  size_t longest = 0;
  uint32_t node = Offset(units_[0]);  // 0 ^ offset: the root's children
  for (size_t i = 0; i < input.size(); ++i) {
    const auto label = static_cast<unsigned char>(input[i]);
    node ^= label;
    if (node >= n) break;
    const uint32_t unit = units_[node];
    if (Label(unit) != label) break;
    node ^= Offset(unit);
    if (HasLeaf(unit)) {
      // In range and terminated: Validate() checked every leaf reachable this way.
      *replacement = replacements_.c_str() + Value(units_[node]);
      longest = i + 1;
    }
  }
  return longest;
}

}  // namespace lmeye
