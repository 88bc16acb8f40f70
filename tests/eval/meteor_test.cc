// METEOR (exact + stem + synonym, no paraphrase) against Meteor 1.5's METEOR_noparaphrase values
// in cases.json, plus its building blocks: the Snowball stemmer, the normaliser, the synonyms.
#include "model/eval/meteor.h"

#include <gtest/gtest.h>

#include "model/eval/meteor_normalizer.h"
#include "model/eval/snowball_stemmer.h"
#include "tests/eval/fixture_cases.h"

namespace lmeye::eval {
namespace {

using testing::MetricCases;

// The issue asks for 1e-4; the re-implementation follows Meteor's arithmetic.
constexpr double kTolerance = 1e-9;

// Tests read the data the product ships (model/eval/meteor), via the test data root.
const MeteorResources& Resources() {
  static const MeteorResources* resources = [] {
    auto loaded = MeteorResources::Load(lmeye::testing::TestDataDir() + "/../../model/eval/meteor");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  return *resources;
}

std::vector<CaptionExample> Examples(const nlohmann::json& set) {
  std::vector<CaptionExample> examples;
  for (const auto& item : set["items"]) {
    examples.push_back({item["candidate_tokenized"],
                        item["references_tokenized"].get<std::vector<std::string>>()});
  }
  return examples;
}

class EvalMeteorFixtureTest : public ::testing::TestWithParam<int> {};

TEST_P(EvalMeteorFixtureTest, MatchesMeteorNoParaphrase) {
  const nlohmann::json& set = MetricCases()["caption_sets"][GetParam()];
  const MeteorScorer scorer(&Resources());
  const CorpusScore meteor = scorer.ScoreCorpus(Examples(set));
  for (size_t i = 0; i < meteor.per_item.size(); ++i) {
    EXPECT_NEAR(meteor.per_item[i], set["items"][i]["scores"]["METEOR_noparaphrase"].get<double>(),
                kTolerance)
        << set["items"][i]["id"];
  }
  EXPECT_NEAR(meteor.corpus, set["corpus_scores"]["METEOR_noparaphrase"].get<double>(), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(AllSets, EvalMeteorFixtureTest, ::testing::Values(0, 1, 2));

TEST(EvalSnowballStemmerTest, KnownStems) {
  const std::pair<const char*, const char*> cases[] = {{"running", "run"},
                                                       {"caresses", "caress"},
                                                       {"ponies", "poni"},
                                                       {"ties", "tie"},
                                                       {"happily", "happili"},
                                                       {"relational", "relat"},
                                                       {"generously", "generous"},
                                                       {"dying", "die"},
                                                       {"skies", "sky"},
                                                       {"consigned", "consign"},
                                                       {"communication", "communic"},
                                                       {"hopping", "hop"},
                                                       {"hoped", "hope"},
                                                       {"agreed", "agre"},
                                                       {"dogs", "dog"},
                                                       {"gas", "gas"},
                                                       {"this", "this"},
                                                       {"sleeping", "sleep"},
                                                       {"cabinets", "cabinet"},
                                                       {"'s", "'s"},
                                                       {"dog's", "dog"},
                                                       {"knightly", "knight"},
                                                       {"yelling", "yell"},
                                                       {"enjoying", "enjoy"}};
  for (const auto& [word, stem] : cases) EXPECT_EQ(SnowballEnglishStem(word), stem) << word;
}

TEST(EvalMeteorNormalizerTest, EnglishRules) {
  const NonbreakingPrefixes& nbp = Resources().nonbreaking_prefixes();
  EXPECT_EQ(MeteorNormalize("a man 's bike is n't locked", nbp), "a man ' s bike is n 't locked");
  EXPECT_EQ(MeteorNormalize("The U.S. team, 1,000 fans.", nbp), "The US team , 1,000 fans .");
  EXPECT_EQ(MeteorNormalize("black-and-white -lrb- x -rrb-", nbp),
            "black and white -lrb- x -rrb-");  // -lrb- has no alnum before its dash
  EXPECT_EQ(MeteorNormalize("wait... what", nbp), "wait ... what");
  EXPECT_EQ(MeteorNormalize("Mr. Smith", nbp), "Mr. Smith");
}

TEST(EvalMeteorResourcesTest, SynonymsAndFunctionWords) {
  const MeteorResources& r = Resources();
  EXPECT_TRUE(r.IsFunctionWord("the"));
  EXPECT_FALSE(r.IsFunctionWord("dog"));
  // couch/sofa share a WordNet synset; "couches" reaches it through morphology.
  const auto sofa = r.SynsetsWithMorphology("sofa");
  ASSERT_FALSE(sofa.empty());
  const auto couches = r.SynsetsWithMorphology("couches");
  bool shared = false;
  for (int id : couches) shared = shared || std::binary_search(sofa.begin(), sofa.end(), id);
  EXPECT_TRUE(shared);
}

TEST(EvalMeteorScorerTest, EdgeCases) {
  const MeteorScorer scorer(&Resources());
  EXPECT_EQ(scorer.ScoreSegment("", {"a dog"}).score, 0.0);
  EXPECT_EQ(scorer.ScoreSegment("a dog", {}).test_length, 0.0);
  EXPECT_NEAR(scorer.ScoreSegment("The cat sat.", {"the cat sat ."}).score, 1.0, 1e-12);
}

}  // namespace
}  // namespace lmeye::eval
