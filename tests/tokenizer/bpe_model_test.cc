// The heap-based merge loop against a direct transcription of OpenAI's encoder.py `bpe()`.
#include "model/tokenizer/bpe_model.h"

#include <random>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lmeye {
namespace {

using ::testing::ElementsAre;

// encoder.py: find the lowest-ranked adjacent pair, merge all its occurrences left to right,
// repeat. Quadratic, obviously right.
std::vector<int> ReferenceBpe(std::vector<int> word, const std::vector<BpeMerge>& merges) {
  while (word.size() > 1) {
    int best = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      for (size_t r = 0; r < merges.size(); ++r) {
        if (merges[r].left == word[i] && merges[r].right == word[i + 1]) {
          if (best < 0 || static_cast<int>(r) < best) best = static_cast<int>(r);
          break;
        }
      }
    }
    if (best < 0) break;
    std::vector<int> next;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == merges[best].left &&
          word[i + 1] == merges[best].right) {
        next.push_back(merges[best].merged);
        i += 2;
      } else {
        next.push_back(word[i]);
        ++i;
      }
    }
    word = next;
  }
  return word;
}

TEST(BpeModelTest, LeftmostFirstForRepeatedPairs) {
  // a=0; aa=1; aaaa=2
  BpeModel model({{0, 0, 1}, {1, 1, 2}});
  std::vector<int> w = {0, 0, 0};
  model.Merge(&w);
  EXPECT_THAT(w, ElementsAre(1, 0));
  w = {0, 0, 0, 0, 0};
  model.Merge(&w);
  EXPECT_THAT(w, ElementsAre(2, 0));
  w = {};
  model.Merge(&w);
  EXPECT_TRUE(w.empty());
}

TEST(BpeModelTest, RankOrderWins) {
  // a=0 b=1 c=2; bc=3 (rank 0), ab=4 (rank 1): "abc" -> a + bc.
  BpeModel model({{1, 2, 3}, {0, 1, 4}});
  std::vector<int> w = {0, 1, 2};
  model.Merge(&w);
  EXPECT_THAT(w, ElementsAre(0, 3));
}

TEST(BpeModelTest, MatchesReferenceOnRandomWords) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    // Alphabet 0..3; merges build new ids from random existing pairs.
    const int alphabet = 4;
    std::vector<BpeMerge> merges;
    int next_id = alphabet;
    std::uniform_int_distribution<int> n_merges(1, 12);
    const int m = n_merges(rng);
    for (int i = 0; i < m; ++i) {
      std::uniform_int_distribution<int> pick(0, next_id - 1);
      merges.push_back({pick(rng), pick(rng), next_id++});
    }
    BpeModel model(merges);
    std::uniform_int_distribution<int> len(0, 40), sym(0, alphabet - 1);
    std::vector<int> word(len(rng));
    for (int& s : word) s = sym(rng);
    std::vector<int> got = word;
    model.Merge(&got);
    // A pair listed twice keeps its first rank in both implementations.
    EXPECT_EQ(got, ReferenceBpe(word, merges)) << "trial " << trial;
  }
}

}  // namespace
}  // namespace lmeye
