#include "server/metrics_exposer.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <exception>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<MetricsExposer>> MetricsExposer::Start(const std::string& listen,
                                                                      const Metrics& metrics) {
  // civetweb binds numeric addresses only.
  std::string address = listen;
  if (absl::StartsWith(address, "localhost:")) {
    address = absl::StrCat("127.0.0.1", address.substr(sizeof("localhost") - 1));
  }
  std::unique_ptr<MetricsExposer> exposer(new MetricsExposer());
  exposer->registry_ = metrics.registry();
  try {
    // One thread would do for Prometheus; two let a scrape and a health probe overlap.
    exposer->exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot serve /metrics on ", listen, ": ", e.what()));
  }
  exposer->exposer_->RegisterCollectable(exposer->registry_);
  const std::vector<int> ports = exposer->exposer_->GetListeningPorts();
  exposer->port_ = ports.empty() ? 0 : ports.front();
  return exposer;
}

MetricsExposer::~MetricsExposer() = default;

}  // namespace lmeye
