// The whole caption pipeline (raw text -> COCO PTB tokenisation -> BLEU, ROUGE-L, CIDEr-D, METEOR)
// against tests/data/metrics/pipeline_golden.json: 200 raw long answers scored by pycocoevalcap's
// procedure with CoreNLP v3.4.1 and Meteor 1.5 (no paraphrase), both built from source.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/eval/scoring.h"
#include "nlohmann/json.hpp"
#include "tests/common/test_data.h"

namespace lmeye::eval {
namespace {

TEST(EvalPipelineTest, MatchesPycocoevalcapOnRawLongAnswers) {
  std::ifstream in(lmeye::testing::TestData("metrics/pipeline_golden.json"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const nlohmann::json golden = nlohmann::json::parse(buffer.str());
  EvalDataset dataset;
  dataset.task = EvalTask::kLong;
  std::vector<Prediction> predictions;
  for (const auto& item : golden["items"]) {
    EvalItem e;
    e.id = std::to_string(dataset.items.size());
    e.references = item["references"].get<std::vector<std::string>>();
    predictions.push_back({e.id, false, item["candidate"]});
    dataset.items.push_back(std::move(e));
  }
  auto meteor = MeteorResources::Load(lmeye::testing::TestDataDir() + "/../../model/eval/meteor");
  ASSERT_TRUE(meteor.ok()) << meteor.status();
  ScoringOptions options;
  options.meteor = meteor->get();
  auto report = ScorePredictions(dataset, predictions, options);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const auto& [metric, value] : golden["corpus"].items()) {
    EXPECT_NEAR(report->metrics.at(metric), value.get<double>(), 1e-9) << metric;
  }
  for (const auto& [metric, values] : golden["per_item"].items()) {
    ASSERT_EQ(values.size(), report->items.size()) << metric;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_NEAR(report->items[i].metrics.at(metric), values[i].get<double>(), 1e-9)
          << metric << " item " << i;
    }
  }
}

}  // namespace
}  // namespace lmeye::eval
