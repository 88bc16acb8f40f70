#include "model/eval/ptb_abbreviations.h"

#include <algorithm>

#include "model/eval/ptb_patterns.h"
#include "model/eval/text_util.h"

namespace lmeye::eval::ptb {
namespace {

char32_t At(const U32& s, size_t i) { return i < s.size() ? s[i] : 0; }

// Abbreviation lists (ABBREV1 words, ABBREV4 words, ABBREV3 words); '=' marks a character that
// the lexer gives as a one-character class, hence case-sensitive.
constexpr std::string_view kAbbrev1[] = {
    // ABMONTH
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    // ABDAYS
    "mon", "tue", "tues", "wed", "thu", "thurs", "fri",
    // ABSTATE
    "ala", "ariz", "=Az", "=Ark", "calif", "colo", "conn", "ct", "dak", "=Del", "fla", "ga", "=Ill",
    "ind", "kan", "kans", "ky", "=La", "=Mass", "md", "mich", "minn", "=Miss", "mo", "mont", "neb",
    "nev", "okla", "=Ore", "=Pa", "penn", "tenn", "=Tex", "va", "vt", "=Wash", "wis", "wisc", "wyo",
    // ABCOMP
    "inc", "co", "cos", "corp", "pt=y", "pt=e", "pt=ys", "pt=es", "ppt=y", "ppt=e", "ppt=ys",
    "ppt=es", "ltd", "plc", "rt", "bancorp", "bhd", "assn", "univ", "intl", "sys",
    // ABNUM
    "tel", "est", "ext", "sq",
    // ABPTIT
    "jr", "sr", "bros", "ed.d", "ph.d", "blvd", "rd", "esq", "etc", "al", "seq", "bldg"};
constexpr std::string_view kAbbrev4Words[] = {
    // ABTITLE
    "mr", "mrs", "ms", "=Miss", "dr", "drs", "prof", "profs", "sen", "sens", "rep", "reps", "atty",
    "attys", "lt", "col", "gen", "messrs", "gov", "govs", "adm", "rev", "maj", "sgt", "cpl", "pvt",
    "capt", "st", "ste", "ave", "pres", "lieut", "hon", "brig", "cmdr", "comdr", "pfc", "spc",
    "supt", "supts", "det", "mt", "ft", "adj", "adv", "asst", "assoc", "ens", "insp", "mlle", "mme",
    "msgr", "sfc",
    // the rest of ABBREV4 but ACRO
    "vs", "alex", "wm", "jos", "cie", "a.k.a", "cf", "treas", "ph",
    // ABCOMP2
    "invt", "elec", "natl", "m=fg", "m=tg", "dept"};
constexpr std::string_view kAbbrev3[] = {"ca",  "fig", "figs", "prop", "no",
                                         "nos", "art", "bldg", "pp",   "op"};
// Followers that make an acronym's period a sentence end ([A]bout ... [Y]ou, first letter exact).
constexpr std::string_view kSentenceStarters[] = {
    "=About", "=According", "=Additionally", "=After", "=An",    "=A",       "=As",   "=At",
    "=But",   "=Earlier",   "=He",           "=Her",   "=Here",  "=However", "=If",   "=In",
    "=It",    "=Last",      "=Many",         "=More",  "=Mr.",   "=Ms.",     "=Now",  "=Once",
    "=One",   "=Other",     "=Our",          "=She",   "=Since", "=So",      "=Some", "=Such",
    "=That",  "=The",       "=Their",        "=Then",  "=There", "=These",   "=They", "=This",
    "=We",    "=When",      "=While",        "=What",  "=Yet",   "=You"};
template <size_t N>
size_t LongestOf(const U32& s, size_t pos, const std::string_view (&list)[N]) {
  size_t best = 0;
  for (std::string_view w : list) best = std::max(best, MatchLiteral(s, pos, w));
  return best;
}

// ACRO's special alternatives: (Canada|Sino|Korean|EU|Japan|non)-U\.S|U\.S\.-(U\.K|U\.S\.S\.R)
size_t MatchAcroSpecialImpl(const U32& s, size_t pos) {
  return MatchAnyLiteral(s, pos,
                         {"canada-u.s", "sino-u.s", "korean-u.s", "eu-u.s", "japan-u.s", "non-u.s",
                          "u.s.-u.k", "u.s.-u.s.s.r"});
}

// [A-Za-z](\.[A-Za-z])* with at least `min_letters` letters, or a special alternative.
size_t MatchAcroMin(const U32& s, size_t pos, size_t min_letters) {
  size_t best = MatchAcroSpecialImpl(s, pos);
  if (pos < s.size() && IsAsciiLetter(s[pos])) {
    size_t j = pos + 1;
    size_t letters = 1;
    while (j + 1 < s.size() && s[j] == '.' && IsAsciiLetter(s[j + 1])) {
      j += 2;
      ++letters;
    }
    if (letters >= min_letters) best = std::max(best, j - pos);
  }
  return best;
}

}  // namespace

size_t MatchAcro(const U32& s, size_t pos) { return MatchAcroMin(s, pos, 1); }

size_t MatchAcroCompound(const U32& s, size_t pos) { return MatchAcroSpecialImpl(s, pos); }

size_t MatchAbbrev1(const U32& s, size_t pos) {
  size_t best = 0;
  for (std::string_view w : kAbbrev1) {
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0 && At(s, pos + m) == '.') best = std::max(best, m + 1);
  }
  return best;
}

size_t MatchAbbrev4(const U32& s, size_t pos) {
  return std::max(LongestOf(s, pos, kAbbrev4Words), MatchAcro(s, pos));
}

size_t MatchAbbrev2(const U32& s, size_t pos) {
  size_t best = 0;
  for (std::string_view w : kAbbrev4Words) {
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0 && At(s, pos + m) == '.') best = std::max(best, m + 1);
  }
  // ACRO '.': every acronym prefix ending before a '.' counts.
  if (IsAsciiLetter(At(s, pos))) {
    size_t j = pos + 1;
    while (true) {
      if (At(s, j) == '.') best = std::max(best, j + 1 - pos);
      if (At(s, j) == '.' && IsAsciiLetter(At(s, j + 1))) {
        j += 2;
      } else {
        break;
      }
    }
  }
  const size_t special = MatchAcroSpecialImpl(s, pos);
  if (special > 0 && At(s, pos + special) == '.') best = std::max(best, special + 1);
  return best;
}

size_t MatchAbbrev3(const U32& s, size_t pos) {
  size_t best = 0;
  for (std::string_view w : kAbbrev3) {
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0 && At(s, pos + m) == '.') best = std::max(best, m + 1);
  }
  return best;
}

size_t MatchSentenceStarter(const U32& s, size_t pos) {
  return std::max(LongestOf(s, pos, kSentenceStarters), MatchSgml(s, pos));
}

}  // namespace lmeye::eval::ptb
