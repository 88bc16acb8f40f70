// The router: the InferenceBackend the gRPC edge talks to, over N workers (one per device).
// A call goes to the least-loaded worker (waiting + running requests; ties to the lowest
// index); when that worker refuses it (queue full), the next least loaded is tried, so the
// call fails with RESOURCE_EXHAUSTED only when every worker refuses.
//
// Threads: every method may be called from any thread. The workers are owned by the router.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/runtime/inference.h"
#include "server/runtime/worker.h"

namespace lmeye {

class Router : public InferenceBackend {
 public:
  // At least one worker.
  explicit Router(std::vector<std::unique_ptr<Worker>> workers);
  ~Router() override;

  absl::Status Submit(std::shared_ptr<InferenceCall> call) override;

  int size() const { return static_cast<int>(workers_.size()); }
  Worker& worker(int i) { return *workers_.at(i); }
  // Sum over the workers.
  WorkerLoad load() const;

  // Drains every worker (in parallel) until `deadline`; blocks until all are done.
  void Drain(absl::Time deadline);

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace lmeye
