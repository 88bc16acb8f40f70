// Metrics: values recorded through the SchedulerObserver and RequestMetrics interfaces appear,
// with their names, labels and values, in what the HTTP exposer serves at /metrics.
#include "server/metrics/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "server/metrics/metrics_exposer.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// GET http://127.0.0.1:port/path with a plain socket (HTTP/1.0: the server closes when done).
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  return response;
}

void RecordSome(Metrics& metrics) {
  SchedulerObserver* observer = metrics.scheduler_observer();
  observer->OnBatch(SchedulerPhase::kDecode, 8, 8, 0.02);
  observer->OnBatch(SchedulerPhase::kDecode, 4, 4, 0.01);
  observer->OnBatch(SchedulerPhase::kInteraction, 3, 0, 0.004);
  observer->OnQueueState(0, 5, 7, 1200, 4096);
  observer->OnQueueState(1, 0, 1, 30, 4096);
  observer->OnImageCacheLookup(true);
  observer->OnImageCacheLookup(false);
  observer->OnImageCacheLookup(true);
  observer->OnPrefixCacheLookup(true, 40);
  observer->OnPrefixCacheLookup(false, 0);

  RequestRecord chat;
  chat.rpc = "Chat";
  chat.e2e_seconds = 0.3;
  chat.queue_seconds = 0.01;
  chat.time_to_first_token_seconds = 0.05;
  chat.inter_token_seconds = {0.02, 0.03};
  chat.prompt_tokens = 20;
  chat.generated_tokens = 3;
  chat.cached_prompt_tokens = 12;
  metrics.request_metrics()->OnRequestDone(chat);
  RequestRecord bad;
  bad.rpc = "AnswerVQA";
  bad.code = absl::StatusCode::kInvalidArgument;
  bad.e2e_seconds = 0.001;
  metrics.request_metrics()->OnRequestDone(bad);
}

void ExpectRecorded(const std::string& text) {
  EXPECT_THAT(text, HasSubstr("# TYPE lmeye_requests_total counter"));
  EXPECT_THAT(text, HasSubstr("lmeye_requests_total{code=\"OK\",rpc=\"Chat\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("lmeye_requests_total{code=\"INVALID_ARGUMENT\",rpc=\"AnswerVQA\"} 1"));
  EXPECT_THAT(text, HasSubstr("# TYPE lmeye_request_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("lmeye_request_duration_seconds_count{rpc=\"Chat\"} 1"));
  EXPECT_THAT(text, HasSubstr("lmeye_request_duration_seconds_sum{rpc=\"Chat\"} 0.3"));
  EXPECT_THAT(text, HasSubstr("lmeye_request_queue_seconds_count{rpc=\"Chat\"} 1"));
  // A request rejected before the worker has no queue or first-token time.
  EXPECT_THAT(text, Not(HasSubstr("lmeye_request_queue_seconds_count{rpc=\"AnswerVQA\"}")));
  EXPECT_THAT(text, HasSubstr("lmeye_time_to_first_token_seconds_count{rpc=\"Chat\"} 1"));
  EXPECT_THAT(text, HasSubstr("lmeye_inter_token_seconds_count{rpc=\"Chat\"} 2"));
  EXPECT_THAT(text, HasSubstr("lmeye_inter_token_seconds_sum{rpc=\"Chat\"} 0.05"));
  EXPECT_THAT(text, HasSubstr("lmeye_prompt_tokens_total{rpc=\"Chat\"} 20"));
  EXPECT_THAT(text, HasSubstr("lmeye_generated_tokens_total{rpc=\"Chat\"} 3"));
  EXPECT_THAT(text, HasSubstr("lmeye_cached_prompt_tokens_total{rpc=\"Chat\"} 12"));

  EXPECT_THAT(text, HasSubstr("lmeye_batch_size_count{phase=\"decode\"} 2"));
  EXPECT_THAT(text, HasSubstr("lmeye_batch_size_sum{phase=\"decode\"} 12"));
  EXPECT_THAT(text, HasSubstr("lmeye_batch_size_bucket{phase=\"decode\",le=\"4\"} 1"));
  EXPECT_THAT(text, HasSubstr("lmeye_batch_size_bucket{phase=\"decode\",le=\"8\"} 2"));
  EXPECT_THAT(text, HasSubstr("lmeye_batch_tokens_count{phase=\"decode\"} 2"));
  // n_tokens 0: no token observation.
  EXPECT_THAT(text, HasSubstr("lmeye_batch_tokens_count{phase=\"interaction\"} 0"));
  EXPECT_THAT(text, HasSubstr("lmeye_step_duration_seconds_count{phase=\"interaction\"} 1"));
  EXPECT_THAT(text, HasSubstr("lmeye_step_duration_seconds_sum{phase=\"interaction\"} 0.004"));
  // Phases that never ran are there, at 0.
  EXPECT_THAT(text, HasSubstr("lmeye_step_duration_seconds_count{phase=\"first_pass\"} 0"));
  EXPECT_THAT(text, HasSubstr("lmeye_step_duration_seconds_count{phase=\"score_choices\"} 0"));

  EXPECT_THAT(text, HasSubstr("lmeye_requests_waiting{worker=\"0\"} 5"));
  EXPECT_THAT(text, HasSubstr("lmeye_requests_running{worker=\"0\"} 7"));
  EXPECT_THAT(text, HasSubstr("lmeye_requests_running{worker=\"1\"} 1"));
  EXPECT_THAT(text, HasSubstr("lmeye_kv_cache_used_tokens{worker=\"0\"} 1200"));
  EXPECT_THAT(text, HasSubstr("lmeye_kv_cache_capacity_tokens{worker=\"1\"} 4096"));

  EXPECT_THAT(text, HasSubstr("lmeye_image_cache_lookups_total 3"));
  EXPECT_THAT(text, HasSubstr("lmeye_image_cache_hits_total 2"));
  EXPECT_THAT(text, HasSubstr("lmeye_prefix_cache_lookups_total 2"));
  EXPECT_THAT(text, HasSubstr("lmeye_prefix_cache_hits_total 1"));
  EXPECT_THAT(text, HasSubstr("lmeye_prefix_cache_reused_tokens_total 40"));
  // Histograms, never summaries (prometheus-cpp's own exposer_* series are not ours).
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "# TYPE lmeye_")) {
      EXPECT_FALSE(absl::EndsWith(line, "summary")) << line;
    }
  }
}

TEST(MetricsTest, TextFormatHasEverySeries) {
  Metrics metrics;
  RecordSome(metrics);
  ExpectRecorded(metrics.TextFormat());
}

TEST(MetricsTest, SeriesExistBeforeAnyRequest) {
  Metrics metrics;
  const std::string text = metrics.TextFormat();
  EXPECT_THAT(text, HasSubstr("lmeye_image_cache_lookups_total 0"));
  EXPECT_THAT(text, HasSubstr("lmeye_prefix_cache_hits_total 0"));
  EXPECT_THAT(text, HasSubstr("lmeye_batch_size_count{phase=\"vision\"} 0"));
}

TEST(MetricsTest, ExposerServesTheRegistryOverHttp) {
  Metrics metrics;
  auto exposer = MetricsExposer::Start("127.0.0.1:0", metrics);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  ASSERT_GT((*exposer)->port(), 0);
  RecordSome(metrics);  // recorded after the start: scrapes read live values
  const std::string response = HttpGet((*exposer)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  ExpectRecorded(response);
}

TEST(MetricsTest, ExposerAnswersEveryScrapeAndOnlyMetrics) {
  Metrics metrics;
  auto exposer = MetricsExposer::Start("localhost:0", metrics);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  for (int i = 0; i < 3; ++i) {
    const std::string response = HttpGet((*exposer)->port(), "/metrics?x=1");
    EXPECT_THAT(response, HasSubstr("200 OK"));
    EXPECT_THAT(response, HasSubstr("text/plain; version=0.0.4"));
    EXPECT_THAT(response, HasSubstr("lmeye_image_cache_lookups_total 0"));
  }
  EXPECT_THAT(HttpGet((*exposer)->port(), "/"), HasSubstr("404 Not Found"));
}

TEST(MetricsTest, ExposerReportsAPortInUse) {
  Metrics metrics;
  auto first = MetricsExposer::Start("127.0.0.1:0", metrics);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsExposer::Start("127.0.0.1:" + std::to_string((*first)->port()), metrics);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("metrics_listen"));
}

}  // namespace
}  // namespace lmeye
