#include "model/tokenizer/unicode_tables.h"

#include <algorithm>
#include <array>

namespace lmeye {
namespace {

using unicode_internal::CodepointRange;

bool InRanges(uint32_t cp, const CodepointRange* ranges, size_t n) {
  const CodepointRange* end = ranges + n;
  // First range whose upper bound is >= cp.
  const CodepointRange* it = std::lower_bound(
      ranges, end, cp, [](const CodepointRange& r, uint32_t value) { return r.hi < value; });
  return it != end && it->lo <= cp;
}

CharClass ClassifySlow(uint32_t cp) {
  using namespace unicode_internal;
  if (InRanges(cp, kLetterRanges, kLetterRangesSize)) return CharClass::kLetter;
  if (InRanges(cp, kNumberRanges, kNumberRangesSize)) return CharClass::kNumber;
  if (InRanges(cp, kWhiteSpaceRanges, kWhiteSpaceRangesSize)) return CharClass::kWhiteSpace;
  return CharClass::kOther;
}

// Almost all text is in the BMP, and encode is on the serving path: one table lookup there.
const std::array<CharClass, 0x10000>& BmpTable() {
  static const auto* table = [] {
    auto* t = new std::array<CharClass, 0x10000>();
    for (uint32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = ClassifySlow(cp);
    return t;
  }();
  return *table;
}

}  // namespace

CharClass ClassifyCodepoint(uint32_t cp) {
  if (cp < 0x10000) return BmpTable()[cp];
  if (cp > 0x10FFFF) return CharClass::kOther;
  return ClassifySlow(cp);
}

const char* UnicodeVersion() { return unicode_internal::kUnicodeVersion; }

}  // namespace lmeye
