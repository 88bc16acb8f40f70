// Metrics: values recorded through the SchedulerObserver and RequestMetrics interfaces appear,
// with their names, labels and values, in what the HTTP exposer serves at /metrics.
#include "server/metrics/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

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

// A plain TCP connection to 127.0.0.1:port (-1 when it fails); the caller closes it.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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

// Issue 29: one connection at a time with a 5 s timeout per recv made 4 idle connections delay
// a scrape by 20 s, and a client sending a byte every 3 s held it indefinitely.
TEST(MetricsTest, IdleAndSlowConnectionsDoNotDelayAScrape) {
  Metrics metrics;
  auto exposer = MetricsExposer::Start("127.0.0.1:0", metrics);  // default timeouts
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  const int port = (*exposer)->port();
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect(port));
  const int slow = Connect(port);
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    const char request[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    for (size_t i = 0; i < std::strlen(request) && !stop; ++i) {
      send(slow, request + i, 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // they connect first

  const auto start = std::chrono::steady_clock::now();
  const std::string response = HttpGet(port, "/metrics");
  const double seconds = SecondsSince(start);
  EXPECT_LT(seconds, 2.0);
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("lmeye_image_cache_lookups_total 0"));
  stop = true;
  dribbler.join();
  for (int fd : idle) close(fd);
  close(slow);
}

TEST(MetricsTest, MoreIdleConnectionsThanTheCapDoNotBlockAScrape) {
  Metrics metrics;
  MetricsExposerOptions options;
  options.max_connections = 4;
  auto exposer = MetricsExposer::Start("127.0.0.1:0", metrics, options);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(Connect((*exposer)->port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(HttpGet((*exposer)->port(), "/metrics"), HasSubstr("200 OK"));
  EXPECT_LT(SecondsSince(start), 2.0);
  for (int fd : idle) close(fd);
}

// Seconds until the exposer closes `fd` (recv returns 0 or fails), at most `limit`; sends a byte
// of `dribble` every 100 ms meanwhile when it is not empty.
double SecondsUntilClosed(int fd, const std::string& dribble, double limit) {
  const auto start = std::chrono::steady_clock::now();
  size_t next = 0;
  while (SecondsSince(start) < limit) {
    if (next < dribble.size()) send(fd, dribble.data() + next++, 1, MSG_NOSIGNAL);
    char byte;
    const ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return SecondsSince(start);
}

TEST(MetricsTest, IdleAndSlowConnectionsAreClosedOnTime) {
  Metrics metrics;
  MetricsExposerOptions options;
  options.idle_timeout = std::chrono::milliseconds(500);
  options.request_timeout = std::chrono::milliseconds(1500);
  auto exposer = MetricsExposer::Start("127.0.0.1:0", metrics, options);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  // Silent: closed by the idle timeout.
  const int idle = Connect((*exposer)->port());
  const double idle_seconds = SecondsUntilClosed(idle, "", 5.0);
  EXPECT_GE(idle_seconds, 0.4);
  EXPECT_LT(idle_seconds, 1.2);
  close(idle);
  // A byte every 100 ms is never idle, but the whole request has a deadline.
  const int slow = Connect((*exposer)->port());
  const double slow_seconds = SecondsUntilClosed(slow, std::string(200, 'x'), 5.0);
  EXPECT_GE(slow_seconds, 1.4);
  EXPECT_LT(slow_seconds, 2.5);
  close(slow);
}

}  // namespace
}  // namespace lmeye
