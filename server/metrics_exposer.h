// Serves a Metrics registry at http://HOST:PORT/metrics (Prometheus text format) on its own
// small HTTP server (prometheus-cpp's civetweb exposer, two threads), separate from the gRPC port
// so that scrapes never queue behind inference and need no gRPC credentials.
//
// Ownership: the exposer keeps the registry alive; destroying it stops the HTTP server (blocking
// until in-flight scrapes finish).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/metrics.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace lmeye {

class MetricsExposer {
 public:
  // Starts serving `metrics` on `listen`: HOST:PORT with a numeric host ("0.0.0.0:9090",
  // "127.0.0.1:0", "[::]:9090"; "localhost" means 127.0.0.1). Port 0 picks a free port (see
  // port()). UNAVAILABLE naming the address when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsExposer>> Start(const std::string& listen,
                                                               const Metrics& metrics);
  ~MetricsExposer();
  MetricsExposer(const MetricsExposer&) = delete;
  MetricsExposer& operator=(const MetricsExposer&) = delete;

  // The port it listens on (the chosen one when started with port 0).
  int port() const { return port_; }

 private:
  MetricsExposer() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace lmeye
