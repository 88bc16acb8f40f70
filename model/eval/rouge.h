// ROUGE-L as pycocoevalcap's Rouge computes it: tokens from split(' ') (a double space yields an
// empty token), LCS with every reference, P = max LCS/len(cand), R = max LCS/len(ref) (maxima taken
// independently), F = (1 + b^2) P R / (R + b^2 P) with b = 1.2, 0 if P or R is 0; corpus = mean of
// items. Pure function, thread-safe.
#pragma once

#include <vector>

#include "model/eval/caption_example.h"

namespace lmeye::eval {

CorpusScore ComputeRougeL(const std::vector<CaptionExample>& examples);

}  // namespace lmeye::eval
