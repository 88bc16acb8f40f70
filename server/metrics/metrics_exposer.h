// Serves a Metrics registry at http://HOST:PORT/metrics (Prometheus text format 0.0.4) on its own
// small HTTP/1.1 server, separate from the gRPC port so that scrapes never queue behind inference
// and need no gRPC credentials.
//
// Why not prometheus-cpp's civetweb Exposer: civetweb starts its threads with a fixed small stack,
// and in the `lmeye` process (libtorch, OpenBLAS and glog bring over 100 KB of static
// thread-local storage) glibc refuses such threads (pthread_create: EINVAL), so /metrics could
// never start.
//
// Threads: Start() spawns one thread that multiplexes every connection with poll() on
// non-blocking sockets, so an idle or slow client never delays another one's scrape (serving
// connections in turn, 4 idle ones held a scrape for 20 s). Bounded: at most
// max_connections at once (a new one evicts the oldest still sending its request), each request
// must arrive whole within request_timeout and with no gap over idle_timeout, each answer be
// taken within write_timeout; GET /metrics gets 200, anything else 404/405; every connection is
// closed after its answer.
// Ownership: the exposer keeps the registry alive; destroying it stops the thread and closes
// every socket.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/metrics/metrics.h"

namespace lmeye {

struct MetricsExposerOptions {
  // Prometheus scrapes with one connection; the rest is headroom for people and health checks.
  int max_connections = 32;
  // The request line and headers, from connect to the blank line (a slow-loris bound).
  std::chrono::milliseconds request_timeout{5000};
  // Longest silence while the request is incomplete (an idle connection's lifetime).
  std::chrono::milliseconds idle_timeout{2000};
  // Time for the client to take the answer.
  std::chrono::milliseconds write_timeout{10000};
};

class MetricsExposer {
 public:
  // Starts serving `metrics` on `listen`: HOST:PORT ("0.0.0.0:9090", "127.0.0.1:0",
  // "[::]:9090", "localhost:9090"). Port 0 picks a free port (see port()). UNAVAILABLE naming
  // metrics_listen when the address cannot be resolved or bound.
  static absl::StatusOr<std::unique_ptr<MetricsExposer>> Start(
      const std::string& listen, const Metrics& metrics,
      const MetricsExposerOptions& options = MetricsExposerOptions());
  ~MetricsExposer();
  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  // The port it listens on (the chosen one when started with port 0).
  int port() const { return port_; }

 private:
  using Clock = std::chrono::steady_clock;
  // One client socket, owned by the serving thread.
  struct Connection {
    int fd = -1;
    Clock::time_point opened;
    Clock::time_point last_read;
    std::string request;   // bytes so far, until the blank line
    std::string response;  // non-empty once answered: being written
    size_t sent = 0;
    Clock::time_point answered;
  };

  MetricsExposer() = default;
  void Serve();
  void AcceptAll();
  // Reads or writes what the socket allows; false when the connection is finished.
  bool Progress(Connection& connection);
  // false when the connection is past one of its deadlines at `now`.
  bool InTime(const Connection& connection, Clock::time_point now) const;
  // Milliseconds until the next deadline of any connection, -1 when there are none.
  int PollTimeoutMs(Clock::time_point now) const;
  std::string Answer(const std::string& request) const;

  MetricsExposerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: the destructor writes to wake the poll()
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<Connection> connections_;  // the serving thread's only
  std::thread thread_;
};

}  // namespace lmeye
