// VQA accuracy exactly as the official evaluation script computes it (GT-Vision-Lab/VQA,
// PythonEvaluationTools/vqaEvaluation/vqaEval.py @ a013f00), including its quirks:
//  - answers and candidate have '\n'/'\t' replaced by spaces and are trimmed;
//  - punctuation/digit/article/contraction normalisation runs ONLY when the ten (trimmed) human
//    answers are not all identical, so "Yes" against ten "yes" scores 0;
//  - punctuation in `; / [ ] " { } ( ) = + \ _ - > < @ ` , ? !` is deleted when the ORIGINAL text
//  has
//    it next to a space (or the text contains digit,digit), otherwise replaced by a space;
//  - '.' not followed by a digit is deleted, at most 32 times (re.sub's count argument receives
//    re.UNICODE == 32 in the reference);
//  - accuracy = mean over the leave-one-out subsets of min(1, #matches among the others / 3).
// Leave-one-out is by position (the reference removes the answer dict, whose answer_id is unique).
// Digit classes are ASCII (the reference's Python 3 \d also accepts non-ASCII decimal digits).
// All functions are pure and thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lmeye::eval {

// vqaEval.processPunctuation.
std::string VqaProcessPunctuation(const std::string& text);
// vqaEval.processDigitArticle: lower-case, number words -> digits, drop articles, contractions.
std::string VqaProcessDigitArticle(const std::string& text);
// Both steps (what the reference applies when normalisation is on).
std::string VqaNormalizeAnswer(const std::string& text);
// '\n' and '\t' -> ' ', then Python strip().
std::string VqaCleanWhitespace(const std::string& text);

struct VqaAnswerScore {
  double accuracy = 0.0;         // unrounded, in [0, 1]
  int num_matching_answers = 0;  // human answers equal to the processed candidate
  bool normalisation_applied = false;
  std::string candidate_processed;
  std::vector<std::string> answers_processed;
};

// Scores one candidate against the human answers (normally 10).
VqaAnswerScore ScoreVqaAnswer(const std::string& candidate,
                              const std::vector<std::string>& answers);

// Python round(value, 2) (correctly rounded, half-to-even on the exact binary value).
double PythonRound2(double value);

// One scored question, for aggregation.
struct VqaScoredQuestion {
  double accuracy = 0.0;
  std::string answer_type;
  std::string question_type;
};

// What vqaEval prints: round(100 * mean, 2) overall and per answer / question type.
struct VqaSummary {
  int n_questions = 0;
  double overall = 0.0;        // official, rounded, in percent
  double overall_exact = 0.0;  // unrounded mean in [0, 1]
  std::map<std::string, double> per_answer_type;
  std::map<std::string, double> per_question_type;
};
VqaSummary SummarizeVqa(const std::vector<VqaScoredQuestion>& questions);

// Plain exact match (VCR Q->A, multiple choice): 1 if the candidate equals the target after
// VqaNormalizeAnswer of both (or exactly, when normalise is false), else 0.
double ExactMatch(const std::string& candidate, const std::string& target, bool normalise = true);

}  // namespace lmeye::eval
