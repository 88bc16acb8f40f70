// The unit the caption metrics score: one candidate and its references, both already tokenised
// (PTB-tokenised and punctuation-stripped as the COCO toolkit does, see ptb_tokenizer.h, or fed
// as-is). The scorers split them the way the reference code does (BLEU/CIDEr on any whitespace,
// ROUGE-L on single spaces).
#pragma once

#include <string>
#include <vector>

namespace lmeye::eval {

struct CaptionExample {
  std::string candidate;
  std::vector<std::string> references;
};

// A metric over a scored set: the corpus value as the reference prints it, and one value per
// example in input order.
struct CorpusScore {
  double corpus = 0.0;
  std::vector<double> per_item;
};

}  // namespace lmeye::eval
