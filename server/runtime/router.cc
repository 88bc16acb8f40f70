#include "server/runtime/router.h"

#include <algorithm>
#include <thread>
#include <utility>

namespace lmeye {

Router::Router(std::vector<std::unique_ptr<Worker>> workers) : workers_(std::move(workers)) {}

Router::~Router() { Drain(absl::Now()); }

absl::Status Router::Submit(std::shared_ptr<InferenceCall> call) {
  if (workers_.empty()) return absl::UnavailableError("router: no workers");
  std::vector<std::pair<int, int>> order;  // (load, index)
  order.reserve(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    order.emplace_back(workers_[i]->load().total(), static_cast<int>(i));
  }
  std::sort(order.begin(), order.end());
  absl::Status status;
  for (const auto& [load, index] : order) {
    status = workers_[index]->Submit(call);
    // Only a full queue is worth another worker: every other refusal (too long, draining, bad
    // parameters) would be the same everywhere.
    if (status.ok() || !absl::IsResourceExhausted(status) ||
        status.message().find("queue full") == absl::string_view::npos) {
      return status;
    }
  }
  return status;
}

WorkerLoad Router::load() const {
  WorkerLoad sum;
  for (const auto& w : workers_) {
    const WorkerLoad l = w->load();
    sum.waiting += l.waiting;
    sum.running += l.running;
    sum.kv_used_tokens += l.kv_used_tokens;
    sum.kv_capacity_tokens += l.kv_capacity_tokens;
  }
  return sum;
}

void Router::Drain(absl::Time deadline) {
  std::vector<std::thread> threads;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    threads.emplace_back([worker, deadline] { worker->Drain(deadline); });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace lmeye
