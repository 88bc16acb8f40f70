#include "model/eval/vqa_accuracy.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

const std::unordered_map<std::string, std::string>& Contractions() {
  static const auto* kMap =
      new std::unordered_map<std::string, std::string>{{"aint", "ain't"},
                                                       {"arent", "aren't"},
                                                       {"cant", "can't"},
                                                       {"couldve", "could've"},
                                                       {"couldnt", "couldn't"},
                                                       {"couldn'tve", "couldn't've"},
                                                       {"couldnt've", "couldn't've"},
                                                       {"didnt", "didn't"},
                                                       {"doesnt", "doesn't"},
                                                       {"dont", "don't"},
                                                       {"hadnt", "hadn't"},
                                                       {"hadnt've", "hadn't've"},
                                                       {"hadn'tve", "hadn't've"},
                                                       {"hasnt", "hasn't"},
                                                       {"havent", "haven't"},
                                                       {"hed", "he'd"},
                                                       {"hed've", "he'd've"},
                                                       {"he'dve", "he'd've"},
                                                       {"hes", "he's"},
                                                       {"howd", "how'd"},
                                                       {"howll", "how'll"},
                                                       {"hows", "how's"},
                                                       {"Id've", "I'd've"},
                                                       {"I'dve", "I'd've"},
                                                       {"Im", "I'm"},
                                                       {"Ive", "I've"},
                                                       {"isnt", "isn't"},
                                                       {"itd", "it'd"},
                                                       {"itd've", "it'd've"},
                                                       {"it'dve", "it'd've"},
                                                       {"itll", "it'll"},
                                                       {"let's", "let's"},
                                                       {"maam", "ma'am"},
                                                       {"mightnt", "mightn't"},
                                                       {"mightnt've", "mightn't've"},
                                                       {"mightn'tve", "mightn't've"},
                                                       {"mightve", "might've"},
                                                       {"mustnt", "mustn't"},
                                                       {"mustve", "must've"},
                                                       {"neednt", "needn't"},
                                                       {"notve", "not've"},
                                                       {"oclock", "o'clock"},
                                                       {"oughtnt", "oughtn't"},
                                                       {"ow's'at", "'ow's'at"},
                                                       {"'ows'at", "'ow's'at"},
                                                       {"'ow'sat", "'ow's'at"},
                                                       {"shant", "shan't"},
                                                       {"shed've", "she'd've"},
                                                       {"she'dve", "she'd've"},
                                                       {"she's", "she's"},
                                                       {"shouldve", "should've"},
                                                       {"shouldnt", "shouldn't"},
                                                       {"shouldnt've", "shouldn't've"},
                                                       {"shouldn'tve", "shouldn't've"},
                                                       {"somebody'd", "somebodyd"},
                                                       {"somebodyd've", "somebody'd've"},
                                                       {"somebody'dve", "somebody'd've"},
                                                       {"somebodyll", "somebody'll"},
                                                       {"somebodys", "somebody's"},
                                                       {"someoned", "someone'd"},
                                                       {"someoned've", "someone'd've"},
                                                       {"someone'dve", "someone'd've"},
                                                       {"someonell", "someone'll"},
                                                       {"someones", "someone's"},
                                                       {"somethingd", "something'd"},
                                                       {"somethingd've", "something'd've"},
                                                       {"something'dve", "something'd've"},
                                                       {"somethingll", "something'll"},
                                                       {"thats", "that's"},
                                                       {"thered", "there'd"},
                                                       {"thered've", "there'd've"},
                                                       {"there'dve", "there'd've"},
                                                       {"therere", "there're"},
                                                       {"theres", "there's"},
                                                       {"theyd", "they'd"},
                                                       {"theyd've", "they'd've"},
                                                       {"they'dve", "they'd've"},
                                                       {"theyll", "they'll"},
                                                       {"theyre", "they're"},
                                                       {"theyve", "they've"},
                                                       {"twas", "'twas"},
                                                       {"wasnt", "wasn't"},
                                                       {"wed've", "we'd've"},
                                                       {"we'dve", "we'd've"},
                                                       {"weve", "we've"},
                                                       {"werent", "weren't"},
                                                       {"whatll", "what'll"},
                                                       {"whatre", "what're"},
                                                       {"whats", "what's"},
                                                       {"whatve", "what've"},
                                                       {"whens", "when's"},
                                                       {"whered", "where'd"},
                                                       {"wheres", "where's"},
                                                       {"whereve", "where've"},
                                                       {"whod", "who'd"},
                                                       {"whod've", "who'd've"},
                                                       {"who'dve", "who'd've"},
                                                       {"wholl", "who'll"},
                                                       {"whos", "who's"},
                                                       {"whove", "who've"},
                                                       {"whyll", "why'll"},
                                                       {"whyre", "why're"},
                                                       {"whys", "why's"},
                                                       {"wont", "won't"},
                                                       {"wouldve", "would've"},
                                                       {"wouldnt", "wouldn't"},
                                                       {"wouldnt've", "wouldn't've"},
                                                       {"wouldn'tve", "wouldn't've"},
                                                       {"yall", "y'all"},
                                                       {"yall'll", "y'all'll"},
                                                       {"y'allll", "y'all'll"},
                                                       {"yall'd've", "y'all'd've"},
                                                       {"y'alld've", "y'all'd've"},
                                                       {"y'all'dve", "y'all'd've"},
                                                       {"youd", "you'd"},
                                                       {"youd've", "you'd've"},
                                                       {"you'dve", "you'd've"},
                                                       {"youll", "you'll"},
                                                       {"youre", "you're"},
                                                       {"youve", "you've"}};
  return *kMap;
}

const std::unordered_map<std::string, std::string>& NumberWords() {
  static const auto* kMap = new std::unordered_map<std::string, std::string>{
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return *kMap;
}

// The reference's punctuation list, in its order (order matters: each replacement sees the text
// produced by the previous ones, while the adjacency test looks at the original text).
constexpr const char* kPunct[] = {";",  "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+",
                                  "\\", "_", "-", ">", "<",  "@", "`", ",", "?", "!"};

// The period rule deletes at most this many periods (see header).
constexpr int kMaxPeriodDeletions = 32;

void ReplaceAll(const std::string& from, const std::string& to, std::string* text) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t pos = text->find(from, start);
    if (pos == std::string::npos) break;
    out.append(*text, start, pos - start);
    out += to;
    start = pos + from.size();
  }
  out.append(*text, start, std::string::npos);
  *text = std::move(out);
}

bool HasDigitCommaDigit(const std::string& text) {
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == ',' && IsAsciiDigit(text[i - 1]) && IsAsciiDigit(text[i + 1])) return true;
  }
  return false;
}

}  // namespace

std::string VqaCleanWhitespace(const std::string& text) {
  std::string out = text;
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\t', ' ');
  return StripPython(out);
}

std::string VqaProcessPunctuation(const std::string& text) {
  std::string out = text;
  const bool digit_comma_digit = HasDigitCommaDigit(text);
  for (const char* p : kPunct) {
    const std::string punct = p;
    const bool adjacent_to_space =
        text.find(punct + " ") != std::string::npos || text.find(" " + punct) != std::string::npos;
    ReplaceAll(punct, (adjacent_to_space || digit_comma_digit) ? "" : " ", &out);
  }
  // re.sub(r"(?!<=\d)(\.)(?!\d)", "", out, 32): the look-ahead "(?!<=\d)" can never match at a
  // '.', so this deletes periods not followed by a digit, left to right, at most 32 of them.
  std::string result;
  result.reserve(out.size());
  int deleted = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '.' && deleted < kMaxPeriodDeletions &&
        !(i + 1 < out.size() && IsAsciiDigit(out[i + 1]))) {
      ++deleted;
      continue;
    }
    result.push_back(out[i]);
  }
  return result;
}

std::string VqaProcessDigitArticle(const std::string& text) {
  std::vector<std::string> words;
  for (std::string& word : SplitPythonWhitespace(ToLowerUtf8(text))) {
    const auto number = NumberWords().find(word);
    if (number != NumberWords().end()) word = number->second;
    if (word == "a" || word == "an" || word == "the") continue;
    words.push_back(std::move(word));
  }
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto contraction = Contractions().find(words[i]);
    if (i > 0) out.push_back(' ');
    out += contraction != Contractions().end() ? contraction->second : words[i];
  }
  return out;
}

std::string VqaNormalizeAnswer(const std::string& text) {
  return VqaProcessDigitArticle(VqaProcessPunctuation(text));
}

VqaAnswerScore ScoreVqaAnswer(const std::string& candidate,
                              const std::vector<std::string>& answers) {
  VqaAnswerScore score;
  score.candidate_processed = VqaCleanWhitespace(candidate);
  score.answers_processed.reserve(answers.size());
  for (const std::string& answer : answers) {
    score.answers_processed.push_back(VqaCleanWhitespace(answer));
  }
  const std::set<std::string> distinct(score.answers_processed.begin(),
                                       score.answers_processed.end());
  if (distinct.size() > 1) {
    score.normalisation_applied = true;
    for (std::string& answer : score.answers_processed) answer = VqaNormalizeAnswer(answer);
    score.candidate_processed = VqaNormalizeAnswer(score.candidate_processed);
  }
  const size_t n = score.answers_processed.size();
  if (n == 0) return score;
  std::vector<bool> matches(n);
  for (size_t i = 0; i < n; ++i) {
    matches[i] = score.answers_processed[i] == score.candidate_processed;
    if (matches[i]) ++score.num_matching_answers;
  }
  // Summed left to right as Python's sum() does, so the last bits agree with the reference.
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const int others = score.num_matching_answers - (matches[i] ? 1 : 0);
    sum += std::min(1.0, static_cast<double>(others) / 3.0);
  }
  score.accuracy = sum / static_cast<double>(n);
  return score;
}

double PythonRound2(double value) {
  // glibc's printf rounds the exact binary value correctly (ties to even), as Python's round does.
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.2f", value);
  return std::strtod(buffer, nullptr);
}

VqaSummary SummarizeVqa(const std::vector<VqaScoredQuestion>& questions) {
  VqaSummary summary;
  summary.n_questions = static_cast<int>(questions.size());
  if (questions.empty()) return summary;
  std::map<std::string, std::pair<double, int>> by_answer;
  std::map<std::string, std::pair<double, int>> by_question;
  double sum = 0.0;
  for (const VqaScoredQuestion& q : questions) {
    sum += q.accuracy;
    auto& a = by_answer[q.answer_type];
    a.first += q.accuracy;
    a.second += 1;
    auto& t = by_question[q.question_type];
    t.first += q.accuracy;
    t.second += 1;
  }
  const double n = static_cast<double>(questions.size());
  summary.overall = PythonRound2(100.0 * sum / n);
  summary.overall_exact = sum / n;
  for (const auto& [type, acc] : by_answer) {
    summary.per_answer_type[type] = PythonRound2(100.0 * acc.first / acc.second);
  }
  for (const auto& [type, acc] : by_question) {
    summary.per_question_type[type] = PythonRound2(100.0 * acc.first / acc.second);
  }
  return summary;
}

double ExactMatch(const std::string& candidate, const std::string& target, bool normalise) {
  if (!normalise) return candidate == target ? 1.0 : 0.0;
  return VqaNormalizeAnswer(VqaCleanWhitespace(candidate)) ==
                 VqaNormalizeAnswer(VqaCleanWhitespace(target))
             ? 1.0
             : 0.0;
}

}  // namespace lmeye::eval
