// The server's Prometheus metrics: one registry, `lmeye_` prefix, base units (seconds, bytes),
// histograms (never summaries, so they aggregate across replicas). One Metrics object per
// process is both the scheduler's observer (batch sizes, step times, queue and KV gauges, cache
// lookups; server/scheduler_observer.h) and the gRPC edge's request recorder (codes, latencies,
// token counts; server/request_metrics.h). MetricsExposer (metrics_exposer.h) serves it over HTTP.
//
// Series (labels in braces):
//   lmeye_requests_total{rpc,code}                      counter, code: "OK", "INVALID_ARGUMENT"...
//   lmeye_request_duration_seconds{rpc}                 histogram, end to end at the edge
//   lmeye_request_queue_seconds{rpc}                    histogram, submit -> admitted
//   lmeye_time_to_first_token_seconds{rpc}              histogram
//   lmeye_inter_token_seconds{rpc}                      histogram, between streamed pieces
//   lmeye_prompt_tokens_total{rpc}                      counter
//   lmeye_generated_tokens_total{rpc}                   counter
//   lmeye_cached_prompt_tokens_total{rpc}               counter, prompt positions reused
//   lmeye_batch_size{phase}                             histogram, sequences (images) per step
//   lmeye_batch_tokens{phase}                           histogram, LLM positions per step (> 0)
//   lmeye_step_duration_seconds{phase}                  histogram; phase="interaction" is the
//                                                       IPN interaction time
//   lmeye_requests_waiting{worker}, lmeye_requests_running{worker}           gauges
//   lmeye_kv_cache_used_tokens{worker}, lmeye_kv_cache_capacity_tokens{worker} gauges
//   lmeye_image_cache_lookups_total, lmeye_image_cache_hits_total            counters
//   lmeye_prefix_cache_lookups_total, lmeye_prefix_cache_hits_total          counters
//   lmeye_prefix_cache_reused_tokens_total                                   counter
// Every phase series and the cache counters exist from construction (at 0), so dashboards and
// rate() see them before the first request.
//
// Threads: every method is thread-safe and cheap (atomic updates, a short lock inside
// prometheus-cpp when a new label set first appears); none blocks on I/O.
// prometheus-cpp stays out of this header so that the edge and the scheduler do not compile it.
#pragma once

#include <memory>
#include <string>

#include "server/edge/request_metrics.h"
#include "server/runtime/scheduler_observer.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace lmeye {

class Metrics final : public SchedulerObserver, public RequestMetrics {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // What the scheduler and the edge are handed; both point at this object, which must outlive
  // every worker and the gRPC server.
  SchedulerObserver* scheduler_observer() { return this; }
  RequestMetrics* request_metrics() { return this; }

  // The one registry (for MetricsExposer, or for more collectables of the process).
  std::shared_ptr<prometheus::Registry> registry() const;

  // The registry in the Prometheus text exposition format (what /metrics serves).
  std::string TextFormat() const;

  // SchedulerObserver.
  void OnBatch(SchedulerPhase phase, int batch_size, int n_tokens, double seconds) override;
  void OnQueueState(int worker, int waiting, int running, int64_t kv_used_tokens,
                    int64_t kv_capacity_tokens) override;
  void OnImageCacheLookup(bool hit) override;
  void OnPrefixCacheLookup(bool hit, int reused_tokens) override;

  // RequestMetrics.
  void OnRequestDone(const RequestRecord& record) override;

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

}  // namespace lmeye
