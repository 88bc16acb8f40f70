// CIDEr-D as pycocoevalcap's Cider computes it (cider_scorer.py): n-grams 1..4, sigma 6, document
// frequency = number of items whose reference set contains the n-gram, taken from the references
// of the set being scored (so scores depend on the whole set; a one-item set scores 0),
// idf = log(N) - log(max(1, df)), tf-idf vectors from raw counts, per reference
// sum(min(c, r) * r) / (|c| |r|) times the Gaussian length penalty on bigram counts, averaged over
// n, divided by #refs, x10. Corpus = mean of items. Tokens: split on any whitespace.
// Pure function, thread-safe.
#pragma once

#include <vector>

#include "model/eval/caption_example.h"

namespace lmeye::eval {

CorpusScore ComputeCiderD(const std::vector<CaptionExample>& examples);

}  // namespace lmeye::eval
