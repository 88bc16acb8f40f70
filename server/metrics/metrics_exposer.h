// Serves a Metrics registry at http://HOST:PORT/metrics (Prometheus text format 0.0.4) on its own
// small HTTP/1.1 server, separate from the gRPC port so that scrapes never queue behind inference
// and need no gRPC credentials.
//
// Why not prometheus-cpp's civetweb Exposer: civetweb starts its threads with a fixed small stack,
// and in the `lmeye` process (libtorch, OpenBLAS and glog bring over 100 KB of static
// thread-local storage) glibc refuses such threads (pthread_create: EINVAL), so /metrics could
// never start. Scrapes are rare and tiny; one thread serving connections in turn is plenty.
//
// Threads: Start() spawns one thread that accepts, reads the request (5 s timeout) and answers
// GET /metrics (200), anything else 404/405; every connection is closed after its answer.
// Ownership: the exposer keeps the registry alive; destroying it stops the thread and closes the
// socket (at most one in-flight scrape finishes first).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/metrics/metrics.h"

namespace lmeye {

class MetricsExposer {
 public:
  // Starts serving `metrics` on `listen`: HOST:PORT ("0.0.0.0:9090", "127.0.0.1:0",
  // "[::]:9090", "localhost:9090"). Port 0 picks a free port (see port()). UNAVAILABLE naming
  // metrics_listen when the address cannot be resolved or bound.
  static absl::StatusOr<std::unique_ptr<MetricsExposer>> Start(const std::string& listen,
                                                               const Metrics& metrics);
  ~MetricsExposer();
  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  // The port it listens on (the chosen one when started with port 0).
  int port() const { return port_; }

 private:
  MetricsExposer() = default;
  void Serve();
  void Answer(int fd);

  std::shared_ptr<prometheus::Registry> registry_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: the destructor writes to wake the poll()
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lmeye
