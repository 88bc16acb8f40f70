#include "model/eval/snowball_stemmer.h"

#include <string_view>

#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

using U32 = std::u32string;

bool IsVowel(char32_t c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}
// v_WXY: vowels plus w, x and the marker Y.
bool IsVowelWxy(char32_t c) { return IsVowel(c) || c == 'w' || c == 'x' || c == 'Y'; }
bool IsValidLi(char32_t c) {
  return c == 'c' || c == 'd' || c == 'e' || c == 'g' || c == 'h' || c == 'k' || c == 'm' ||
         c == 'n' || c == 'r' || c == 't';
}

bool EndsWith(const U32& w, std::u32string_view suffix) {
  return w.size() >= suffix.size() &&
         w.compare(w.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

// Returns the longest suffix of `w` from `suffixes`, or an empty view.
template <size_t N>
std::u32string_view LongestSuffix(const U32& w, const std::u32string_view (&suffixes)[N]) {
  std::u32string_view best;
  bool found = false;
  for (std::u32string_view s : suffixes) {
    if (EndsWith(w, s) && (!found || s.size() > best.size())) {
      best = s;
      found = true;
    }
  }
  return best;
}

class Stemmer {
 public:
  explicit Stemmer(U32 word) : w_(std::move(word)) {}

  U32 Run() {
    if (Exception1()) return w_;
    if (w_.size() < 3) return w_;
    Prelude();
    MarkRegions();
    Step1a();
    if (!Exception2()) {
      Step1b();
      Step1c();
      Step2();
      Step3();
      Step4();
      Step5();
    }
    for (char32_t& c : w_) {
      if (c == 'Y') c = 'y';
    }
    return w_;
  }

 private:
  bool Exception1() {
    static constexpr std::pair<std::u32string_view, std::u32string_view> kMap[] = {
        {U"skis", U"ski"},    {U"skies", U"sky"},  {U"dying", U"die"},    {U"lying", U"lie"},
        {U"tying", U"tie"},   {U"idly", U"idl"},   {U"gently", U"gentl"}, {U"ugly", U"ugli"},
        {U"early", U"earli"}, {U"only", U"onli"},  {U"singly", U"singl"}, {U"sky", U"sky"},
        {U"news", U"news"},   {U"howe", U"howe"},  {U"atlas", U"atlas"},  {U"cosmos", U"cosmos"},
        {U"bias", U"bias"},   {U"andes", U"andes"}};
    for (const auto& [from, to] : kMap) {
      if (w_ == from) {
        w_ = U32(to);
        return true;
      }
    }
    return false;
  }

  bool Exception2() const {
    static constexpr std::u32string_view kWords[] = {U"inning",  U"outing",  U"canning",
                                                     U"herring", U"earring", U"proceed",
                                                     U"exceed",  U"succeed"};
    for (std::u32string_view w : kWords) {
      if (w_ == w) return true;
    }
    return false;
  }

  void Prelude() {
    if (!w_.empty() && w_[0] == '\'') w_.erase(0, 1);
    if (!w_.empty() && w_[0] == 'y') w_[0] = 'Y';
    for (size_t i = 1; i < w_.size(); ++i) {
      if (w_[i] == 'y' && IsVowel(w_[i - 1])) w_[i] = 'Y';
    }
  }

  void MarkRegions() {
    p1_ = w_.size();
    p2_ = w_.size();
    size_t start = 0;
    bool special = false;
    for (std::u32string_view prefix :
         {std::u32string_view(U"gener"), std::u32string_view(U"commun"),
          std::u32string_view(U"arsen")}) {
      if (w_.compare(0, prefix.size(), prefix.data(), prefix.size()) == 0 &&
          w_.size() >= prefix.size()) {
        start = prefix.size();
        special = true;
      }
    }
    // "gopast v gopast non-v" must succeed for the region to be set at all.
    if (special) {
      p1_ = start;
    } else {
      size_t i = 0;
      while (i < w_.size() && !IsVowel(w_[i])) ++i;
      if (i == w_.size()) return;
      while (i < w_.size() && IsVowel(w_[i])) ++i;
      if (i == w_.size()) return;
      p1_ = i + 1;
    }
    size_t i = p1_;
    while (i < w_.size() && !IsVowel(w_[i])) ++i;
    if (i == w_.size()) return;
    while (i < w_.size() && IsVowel(w_[i])) ++i;
    if (i == w_.size()) return;
    p2_ = i + 1;
  }

  bool InR1(size_t suffix_len) const { return w_.size() - suffix_len >= p1_; }
  bool InR2(size_t suffix_len) const { return w_.size() - suffix_len >= p2_; }

  // shortv at the end of w_ (backwards): (non-v_WXY v non-v) or (non-v v atlimit).
  bool EndsShortSyllable() const {
    const size_t n = w_.size();
    if (n >= 3 && !IsVowelWxy(w_[n - 1]) && IsVowel(w_[n - 2]) && !IsVowel(w_[n - 3])) return true;
    return n == 2 && !IsVowel(w_[1]) && IsVowel(w_[0]);
  }

  void ReplaceSuffix(size_t suffix_len, std::u32string_view with) {
    w_.replace(w_.size() - suffix_len, suffix_len, with.data(), with.size());
  }

  bool HasVowelBefore(size_t end) const {
    for (size_t i = 0; i < end; ++i) {
      if (IsVowel(w_[i])) return true;
    }
    return false;
  }

  void Step1a() {
    static constexpr std::u32string_view kApostrophe[] = {U"'", U"'s", U"'s'"};
    const std::u32string_view apos = LongestSuffix(w_, kApostrophe);
    if (!apos.empty()) ReplaceSuffix(apos.size(), U"");
    static constexpr std::u32string_view kSuffixes[] = {U"sses", U"ied", U"ies",
                                                        U"s",    U"us",  U"ss"};
    const std::u32string_view suffix = LongestSuffix(w_, kSuffixes);
    if (suffix.empty()) return;
    if (suffix == U"sses") {
      ReplaceSuffix(4, U"ss");
    } else if (suffix == U"ied" || suffix == U"ies") {
      ReplaceSuffix(3, w_.size() > 4 ? U"i" : U"ie");
    } else if (suffix == U"s") {
      // next gopast v: a vowel somewhere before the letter preceding the 's'.
      if (w_.size() >= 2 && HasVowelBefore(w_.size() - 2)) ReplaceSuffix(1, U"");
    }
  }

  void Step1b() {
    static constexpr std::u32string_view kSuffixes[] = {U"eed",  U"eedly", U"ed",
                                                        U"edly", U"ing",   U"ingly"};
    const std::u32string_view suffix = LongestSuffix(w_, kSuffixes);
    if (suffix.empty()) return;
    if (suffix == U"eed" || suffix == U"eedly") {
      if (InR1(suffix.size())) ReplaceSuffix(suffix.size(), U"ee");
      return;
    }
    if (!HasVowelBefore(w_.size() - suffix.size())) return;
    ReplaceSuffix(suffix.size(), U"");
    static constexpr std::u32string_view kEnds[] = {U"at", U"bl", U"iz", U"bb", U"dd", U"ff",
                                                    U"gg", U"mm", U"nn", U"pp", U"rr", U"tt"};
    const std::u32string_view end = LongestSuffix(w_, kEnds);
    if (end == U"at" || end == U"bl" || end == U"iz") {
      w_ += U"e";
    } else if (!end.empty()) {
      w_.pop_back();
    } else if (w_.size() == p1_ && EndsShortSyllable()) {
      w_ += U"e";
    }
  }

  void Step1c() {
    const size_t n = w_.size();
    if (n >= 3 && (w_[n - 1] == 'y' || w_[n - 1] == 'Y') && !IsVowel(w_[n - 2])) w_[n - 1] = 'i';
  }

  void Step2() {
    static constexpr std::pair<std::u32string_view, std::u32string_view> kRules[] = {
        {U"tional", U"tion"}, {U"enci", U"ence"},   {U"anci", U"ance"},   {U"abli", U"able"},
        {U"entli", U"ent"},   {U"izer", U"ize"},    {U"ization", U"ize"}, {U"ational", U"ate"},
        {U"ation", U"ate"},   {U"ator", U"ate"},    {U"alism", U"al"},    {U"aliti", U"al"},
        {U"alli", U"al"},     {U"fulness", U"ful"}, {U"ousli", U"ous"},   {U"ousness", U"ous"},
        {U"iveness", U"ive"}, {U"iviti", U"ive"},   {U"biliti", U"ble"},  {U"bli", U"ble"},
        {U"ogi", U"og"},      {U"fulli", U"ful"},   {U"lessli", U"less"}, {U"li", U""}};
    const auto* best = LongestRule(kRules);
    if (best == nullptr || !InR1(best->first.size())) return;
    const size_t len = best->first.size();
    if (best->first == U"ogi") {
      if (w_.size() >= 4 && w_[w_.size() - 4] == 'l') ReplaceSuffix(len, best->second);
    } else if (best->first == U"li") {
      if (w_.size() >= 3 && IsValidLi(w_[w_.size() - 3])) ReplaceSuffix(len, U"");
    } else {
      ReplaceSuffix(len, best->second);
    }
  }

  void Step3() {
    static constexpr std::pair<std::u32string_view, std::u32string_view> kRules[] = {
        {U"tional", U"tion"}, {U"ational", U"ate"}, {U"alize", U"al"},
        {U"icate", U"ic"},    {U"iciti", U"ic"},    {U"ical", U"ic"},
        {U"ful", U""},        {U"ness", U""},       {U"ative", U""}};
    const auto* best = LongestRule(kRules);
    if (best == nullptr || !InR1(best->first.size())) return;
    if (best->first == U"ative" && !InR2(best->first.size())) return;
    ReplaceSuffix(best->first.size(), best->second);
  }

  void Step4() {
    static constexpr std::pair<std::u32string_view, std::u32string_view> kRules[] = {
        {U"al", U""},   {U"ance", U""}, {U"ence", U""}, {U"er", U""},    {U"ic", U""},
        {U"able", U""}, {U"ible", U""}, {U"ant", U""},  {U"ement", U""}, {U"ment", U""},
        {U"ent", U""},  {U"ism", U""},  {U"ate", U""},  {U"iti", U""},   {U"ous", U""},
        {U"ive", U""},  {U"ize", U""},  {U"ion", U""}};
    const auto* best = LongestRule(kRules);
    if (best == nullptr || !InR2(best->first.size())) return;
    if (best->first == U"ion") {
      const size_t n = w_.size();
      if (n >= 4 && (w_[n - 4] == 's' || w_[n - 4] == 't')) ReplaceSuffix(3, U"");
    } else {
      ReplaceSuffix(best->first.size(), U"");
    }
  }

  void Step5() {
    if (w_.empty()) return;
    if (w_.back() == 'e') {
      if (InR2(1)) {
        w_.pop_back();
        return;
      }
      if (InR1(1)) {
        w_.pop_back();
        const bool short_syllable = EndsShortSyllable();
        if (short_syllable) w_ += U"e";
      }
    } else if (w_.back() == 'l') {
      if (InR2(1) && w_.size() >= 2 && w_[w_.size() - 2] == 'l') w_.pop_back();
    }
  }

  template <size_t N>
  const std::pair<std::u32string_view, std::u32string_view>* LongestRule(
      const std::pair<std::u32string_view, std::u32string_view> (&rules)[N]) const {
    const std::pair<std::u32string_view, std::u32string_view>* best = nullptr;
    for (const auto& rule : rules) {
      if (EndsWith(w_, rule.first) && (best == nullptr || rule.first.size() > best->first.size())) {
        best = &rule;
      }
    }
    return best;
  }

  U32 w_;
  size_t p1_ = 0;
  size_t p2_ = 0;
};

}  // namespace

std::string SnowballEnglishStem(const std::string& word) {
  return EncodeUtf8(Stemmer(DecodeUtf8(word)).Run());
}

}  // namespace lmeye::eval
