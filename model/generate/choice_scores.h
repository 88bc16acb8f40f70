// The result of multiple-choice scoring (choice_scorer.h), torch-free so that the gRPC edge
// can carry it without the libtorch headers.
#pragma once

#include <vector>

namespace lmeye {

struct ChoiceScore {
  double total_logprob = 0.0;         // sum over the choice's tokens
  double mean_logprob = 0.0;          // total / number of tokens
  std::vector<float> token_logprobs;  // one per token
};

struct ChoiceScores {
  std::vector<ChoiceScore> choices;  // in the order given
  int best = -1;                     // argmax of total_logprob (first among ties)
  int best_by_mean = -1;             // argmax of mean_logprob (first among ties)
};

}  // namespace lmeye
