#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

Utf8Sequence ScanUtf8(absl::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  const uint8_t b0 = s[0];
  if (b0 < 0x80) return {Utf8Sequence::kComplete, 1, b0};
  size_t need;
  uint32_t cp;
  // The allowed range of the second byte depends on the lead (Unicode Table 3-7).
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {Utf8Sequence::kInvalid, 1, 0};
  }
  for (size_t k = 1; k < need; ++k) {
    if (k >= n) return {Utf8Sequence::kIncomplete, k, 0};
    const uint8_t b = s[k];
    const bool ok = k == 1 ? (b >= lo && b <= hi) : IsContinuation(b);
    if (!ok) return {Utf8Sequence::kInvalid, k, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {Utf8Sequence::kComplete, need, cp};
}

uint32_t DecodeUtf8At(absl::string_view text, size_t pos, size_t* length) {
  const Utf8Sequence seq = ScanUtf8(text.substr(pos));
  if (seq.kind != Utf8Sequence::kComplete) {
    *length = 1;
    return kInvalidCodepoint;
  }
  *length = seq.length;
  return seq.codepoint;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t AppendValidUtf8(absl::string_view bytes, Utf8Replacement policy, bool final,
                       std::string* out) {
  size_t pos = 0;
  size_t run_start = 0;  // start of valid bytes not yet copied: copy runs, not characters
  while (pos < bytes.size()) {
    const auto c = static_cast<uint8_t>(bytes[pos]);
    if (c < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Sequence seq = ScanUtf8(bytes.substr(pos));
    if (seq.kind == Utf8Sequence::kComplete) {
      pos += seq.length;
      continue;
    }
    out->append(bytes.data() + run_start, pos - run_start);
    if (seq.kind == Utf8Sequence::kIncomplete && !final) return pos;
    const size_t bad = seq.length;
    if (policy == Utf8Replacement::kMaximalSubpart) {
      AppendUtf8(kReplacementChar, out);
    } else {
      for (size_t i = 0; i < bad; ++i) AppendUtf8(kReplacementChar, out);
    }
    pos += bad;
    run_start = pos;
  }
  out->append(bytes.data() + run_start, pos - run_start);
  return pos;
}

}  // namespace lmeye
