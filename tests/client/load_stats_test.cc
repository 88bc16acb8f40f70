// The load generator's arithmetic: percentiles (numpy's linear interpolation), throughput, the
// JSON report, and its inputs (questions, image directories).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/latency_stats.h"
#include "client/load_inputs.h"
#include "client/load_report.h"
#include "tests/common/scratch_dir.h"

namespace lmeye::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(LatencyStatsTest, PercentilesInterpolateLikeNumpy) {
  // numpy.percentile([1, 2, 3, 4], [0, 50, 90, 99, 100]) = [1, 2.5, 3.7, 3.97, 4].
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 90), 3.7);
  EXPECT_DOUBLE_EQ(Percentile(v, 99), 3.97);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4);
  EXPECT_DOUBLE_EQ(Percentile(v, 150), 4);  // clamped
  EXPECT_DOUBLE_EQ(Percentile({7}, 99), 7);
  EXPECT_TRUE(std::isnan(Percentile({}, 50)));
  // 1..100: p50 = 50.5, p90 = 90.1, p99 = 99.01.
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  const LatencySummary s = Summarize(hundred);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50, 50.5);
  EXPECT_NEAR(s.p90, 90.1, 1e-12);
  EXPECT_NEAR(s.p99, 99.01, 1e-12);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.max, 100);
}

TEST(LoadReportTest, ThroughputCountsSuccessfulRequestsOnly) {
  std::vector<RequestSample> samples;
  for (int i = 0; i < 4; ++i) {
    RequestSample s;
    s.ok = true;
    s.code = "OK";
    s.ttft_seconds = 0.1 * (i + 1);
    s.e2e_seconds = 1.0 * (i + 1);
    s.prompt_tokens = 10;
    s.generated_tokens = 20;
    s.inter_token_seconds = {0.01 * (i + 1), 0.02};
    samples.push_back(s);
  }
  RequestSample failed;
  failed.code = "RESOURCE_EXHAUSTED";
  failed.e2e_seconds = 0.001;
  samples.push_back(failed);

  const LoadReport r = BuildLoadReport(samples, /*concurrency=*/2, /*wall_seconds=*/2.0);
  EXPECT_EQ(r.requests_ok, 4);
  EXPECT_EQ(r.requests_failed, 1);
  EXPECT_EQ(r.failures_by_code.at("RESOURCE_EXHAUSTED"), 1);
  EXPECT_DOUBLE_EQ(r.requests_per_second, 2.0);
  EXPECT_DOUBLE_EQ(r.generated_tokens_per_second, 40.0);
  EXPECT_DOUBLE_EQ(r.prompt_tokens_per_second, 20.0);
  EXPECT_EQ(r.ttft.count, 4u);
  EXPECT_DOUBLE_EQ(r.ttft.p50, 0.25);
  EXPECT_DOUBLE_EQ(r.e2e.max, 4.0);

  const nlohmann::json json = nlohmann::json::parse(LoadReportJson(r));
  EXPECT_EQ(json["requests_ok"], 4);
  EXPECT_EQ(json["failures_by_code"]["RESOURCE_EXHAUSTED"], 1);
  EXPECT_DOUBLE_EQ(json["generated_tokens_per_second"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(json["time_to_first_token_seconds"]["p50"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(json["end_to_end_seconds"]["p99"].get<double>(), Percentile({1, 2, 3, 4}, 99));

  EXPECT_EQ(r.inter_token.count, 8u);  // every gap of the successful requests
  EXPECT_DOUBLE_EQ(r.inter_token.max, 0.04);
  EXPECT_DOUBLE_EQ(json["inter_token_seconds"]["p50"].get<double>(), 0.02);
  EXPECT_FALSE(json.contains("side_describe"));

  const std::string text = FormatLoadReport(r);
  EXPECT_THAT(text, HasSubstr("inter-token"));
  EXPECT_THAT(text, HasSubstr("4 ok, 1 failed"));
  EXPECT_THAT(text, HasSubstr("40.0 generated tokens/s"));
  EXPECT_THAT(text, HasSubstr("time to first token"));
}

TEST(LoadReportTest, SideDescribesAreReportedApart) {
  RequestSample chat;
  chat.ok = true;
  chat.e2e_seconds = 1.0;
  chat.generated_tokens = 10;
  LoadReport r = BuildLoadReport({chat}, 1, 1.0);
  RequestSample describe;
  describe.ok = true;
  describe.e2e_seconds = 3.0;
  describe.generated_tokens = 100;
  RequestSample failed;
  failed.code = "CANCELLED";
  AddSideDescribes({describe, describe, failed}, 5, &r);
  EXPECT_EQ(r.requests_ok, 1);
  EXPECT_DOUBLE_EQ(r.generated_tokens_per_second, 10.0);
  const nlohmann::json json = nlohmann::json::parse(LoadReportJson(r));
  EXPECT_EQ(json["side_describe"]["num_beams"], 5);
  EXPECT_EQ(json["side_describe"]["requests_ok"], 2);
  EXPECT_EQ(json["side_describe"]["requests_failed"], 1);
  EXPECT_DOUBLE_EQ(json["side_describe"]["end_to_end_seconds"]["p50"].get<double>(), 3.0);
  EXPECT_THAT(FormatLoadReport(r), HasSubstr("side Describe (5 beams) 2 ok, 1 failed"));
}

TEST(LoadReportTest, NoSuccessGivesNullLatencies) {
  RequestSample failed;
  failed.code = "UNAVAILABLE";
  const LoadReport r = BuildLoadReport({failed}, 1, 1.0);
  const nlohmann::json json = nlohmann::json::parse(LoadReportJson(r));
  EXPECT_TRUE(json["time_to_first_token_seconds"]["p50"].is_null());
  EXPECT_THAT(FormatLoadReport(r), HasSubstr("(no samples)"));
}

TEST(LoadInputsTest, QuestionsAndImageDirectories) {
  EXPECT_THAT(ParseQuestions("  What?  \n\n# comment\nWhere?\n"), ElementsAre("What?", "Where?"));
  EXPECT_FALSE(BuiltinQuestions().empty());

  ::lmeye::testing::ScratchDir scratch("lmeye_load");
  const std::string& dir = scratch.path();
  for (const char* name : {"b.png", "a.JPG", "notes.txt"}) std::ofstream(dir + "/" + name) << "x";
  auto files = ListImageFiles({dir, dir + "/notes.txt"});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(dir + "/a.JPG", dir + "/b.png", dir + "/notes.txt"));
  EXPECT_EQ(ListImageFiles({dir + "/missing"}).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lmeye::client
