#include "server/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <string>

namespace lmeye {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr int kNumPhases = static_cast<int>(SchedulerPhase::kBeamSearch) + 1;

// Request latencies: a cached one-token answer (milliseconds) to a long beam-search description
// on a CPU (minutes).
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return *b;
}

// Between tokens, and one scheduler step: sub-millisecond (a small model's decode step on a
// GPU) to seconds (a big prefill on a CPU).
const Histogram::BucketBoundaries& StepBuckets() {
  static const auto* b =
      new Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075,
                                      0.1,    0.15,  0.25,   0.5,   1,    2.5,  5,    10};
  return *b;
}

// Powers of two up to the biggest max_running anyone will set.
const Histogram::BucketBoundaries& BatchSizeBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  return *b;
}

const Histogram::BucketBoundaries& BatchTokenBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{1,    4,    16,   64,   128,   256,  512,
                                                         1024, 2048, 4096, 8192, 16384, 32768};
  return *b;
}

std::string Label(absl::string_view s) { return std::string(s.data(), s.size()); }

}  // namespace

// The families, and the series whose labels are known up front, resolved once so the scheduler's
// calls are plain atomic updates.
struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("lmeye_requests_total")
                     .Help("Finished RPCs by method and gRPC status code.")
                     .Register(r)),
        request_duration(prometheus::BuildHistogram()
                             .Name("lmeye_request_duration_seconds")
                             .Help("End-to-end RPC latency at the server edge.")
                             .Register(r)),
        queue(prometheus::BuildHistogram()
                  .Name("lmeye_request_queue_seconds")
                  .Help("Time from submission to admission into a running batch.")
                  .Register(r)),
        ttft(prometheus::BuildHistogram()
                 .Name("lmeye_time_to_first_token_seconds")
                 .Help("Time from submission to the first generated token.")
                 .Register(r)),
        inter_token(prometheus::BuildHistogram()
                        .Name("lmeye_inter_token_seconds")
                        .Help("Time between successive streamed text pieces.")
                        .Register(r)),
        prompt_tokens(prometheus::BuildCounter()
                          .Name("lmeye_prompt_tokens_total")
                          .Help("Prompt positions (image and slot included) of finished requests.")
                          .Register(r)),
        generated_tokens(prometheus::BuildCounter()
                             .Name("lmeye_generated_tokens_total")
                             .Help("Generated tokens of finished requests.")
                             .Register(r)),
        cached_prompt_tokens(prometheus::BuildCounter()
                                 .Name("lmeye_cached_prompt_tokens_total")
                                 .Help("Prompt positions reused from the prefix cache.")
                                 .Register(r)),
        batch_size(prometheus::BuildHistogram()
                       .Name("lmeye_batch_size")
                       .Help("Sequences (images for vision) in one batched scheduler step.")
                       .Register(r)),
        batch_tokens(prometheus::BuildHistogram()
                         .Name("lmeye_batch_tokens")
                         .Help("LLM positions computed in one batched scheduler step.")
                         .Register(r)),
        step_duration(prometheus::BuildHistogram()
                          .Name("lmeye_step_duration_seconds")
                          .Help("Duration of one batched scheduler step; phase=\"interaction\" "
                                "is the IPN interaction time.")
                          .Register(r)),
        waiting(prometheus::BuildGauge()
                    .Name("lmeye_requests_waiting")
                    .Help("Requests queued and not yet admitted, per worker; a cancelled one "
                          "leaves at once.")
                    .Register(r)),
        running(prometheus::BuildGauge()
                    .Name("lmeye_requests_running")
                    .Help("Requests admitted and not finished, per worker.")
                    .Register(r)),
        kv_used(prometheus::BuildGauge()
                    .Name("lmeye_kv_cache_used_tokens")
                    .Help("KV-cache positions in use, per worker.")
                    .Register(r)),
        kv_capacity(prometheus::BuildGauge()
                        .Name("lmeye_kv_cache_capacity_tokens")
                        .Help("KV-cache capacity in positions, per worker.")
                        .Register(r)),
        image_cache_lookups(prometheus::BuildCounter()
                                .Name("lmeye_image_cache_lookups_total")
                                .Help("Image-feature cache lookups.")
                                .Register(r)
                                .Add({})),
        image_cache_hits(prometheus::BuildCounter()
                             .Name("lmeye_image_cache_hits_total")
                             .Help("Image-feature cache lookups that found the image encoded.")
                             .Register(r)
                             .Add({})),
        prefix_cache_lookups(prometheus::BuildCounter()
                                 .Name("lmeye_prefix_cache_lookups_total")
                                 .Help("Prefix-cache lookups.")
                                 .Register(r)
                                 .Add({})),
        prefix_cache_hits(prometheus::BuildCounter()
                              .Name("lmeye_prefix_cache_hits_total")
                              .Help("Prefix-cache lookups that reused a cached prefix.")
                              .Register(r)
                              .Add({})),
        prefix_cache_reused_tokens(prometheus::BuildCounter()
                                       .Name("lmeye_prefix_cache_reused_tokens_total")
                                       .Help("Prompt positions not recomputed thanks to the "
                                             "prefix cache.")
                                       .Register(r)
                                       .Add({})) {
    for (int i = 0; i < kNumPhases; ++i) {
      const prometheus::Labels labels{
          {"phase", SchedulerPhaseName(static_cast<SchedulerPhase>(i))}};
      phase_batch_size[i] = &batch_size.Add(labels, BatchSizeBuckets());
      phase_batch_tokens[i] = &batch_tokens.Add(labels, BatchTokenBuckets());
      phase_step_duration[i] = &step_duration.Add(labels, StepBuckets());
    }
  }

  Family<Counter>& requests;
  Family<Histogram>& request_duration;
  Family<Histogram>& queue;
  Family<Histogram>& ttft;
  Family<Histogram>& inter_token;
  Family<Counter>& prompt_tokens;
  Family<Counter>& generated_tokens;
  Family<Counter>& cached_prompt_tokens;
  Family<Histogram>& batch_size;
  Family<Histogram>& batch_tokens;
  Family<Histogram>& step_duration;
  Family<Gauge>& waiting;
  Family<Gauge>& running;
  Family<Gauge>& kv_used;
  Family<Gauge>& kv_capacity;
  Counter& image_cache_lookups;
  Counter& image_cache_hits;
  Counter& prefix_cache_lookups;
  Counter& prefix_cache_hits;
  Counter& prefix_cache_reused_tokens;
  std::array<Histogram*, kNumPhases> phase_batch_size{};
  std::array<Histogram*, kNumPhases> phase_batch_tokens{};
  std::array<Histogram*, kNumPhases> phase_step_duration{};
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)) {}

Metrics::~Metrics() = default;

std::shared_ptr<prometheus::Registry> Metrics::registry() const { return registry_; }

std::string Metrics::TextFormat() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::OnBatch(SchedulerPhase phase, int batch_size, int n_tokens, double seconds) {
  const int i = static_cast<int>(phase);
  if (i < 0 || i >= kNumPhases) return;  // a phase added without a series: not worth a crash
  families_->phase_batch_size[i]->Observe(batch_size);
  if (n_tokens > 0) families_->phase_batch_tokens[i]->Observe(n_tokens);
  families_->phase_step_duration[i]->Observe(seconds);
}

void Metrics::OnQueueState(int worker, int waiting, int running, int64_t kv_used_tokens,
                           int64_t kv_capacity_tokens) {
  const prometheus::Labels labels{{"worker", std::to_string(worker)}};
  families_->waiting.Add(labels).Set(waiting);
  families_->running.Add(labels).Set(running);
  families_->kv_used.Add(labels).Set(static_cast<double>(kv_used_tokens));
  families_->kv_capacity.Add(labels).Set(static_cast<double>(kv_capacity_tokens));
}

void Metrics::OnImageCacheLookup(bool hit) {
  families_->image_cache_lookups.Increment();
  if (hit) families_->image_cache_hits.Increment();
}

void Metrics::OnPrefixCacheLookup(bool hit, int reused_tokens) {
  families_->prefix_cache_lookups.Increment();
  if (hit) families_->prefix_cache_hits.Increment();
  if (reused_tokens > 0) families_->prefix_cache_reused_tokens.Increment(reused_tokens);
}

void Metrics::OnRequestDone(const RequestRecord& record) {
  const std::string rpc = Label(record.rpc);
  const prometheus::Labels by_rpc{{"rpc", rpc}};
  families_->requests.Add({{"rpc", rpc}, {"code", absl::StatusCodeToString(record.code)}})
      .Increment();
  families_->request_duration.Add(by_rpc, LatencyBuckets()).Observe(record.e2e_seconds);
  if (record.queue_seconds >= 0) {
    families_->queue.Add(by_rpc, LatencyBuckets()).Observe(record.queue_seconds);
  }
  if (record.time_to_first_token_seconds >= 0) {
    families_->ttft.Add(by_rpc, LatencyBuckets()).Observe(record.time_to_first_token_seconds);
  }
  if (!record.inter_token_seconds.empty()) {
    Histogram& inter_token = families_->inter_token.Add(by_rpc, StepBuckets());
    for (double seconds : record.inter_token_seconds) inter_token.Observe(seconds);
  }
  // No series for an RPC that never has tokens (GetModelInfo, rejected requests).
  if (record.prompt_tokens > 0) {
    families_->prompt_tokens.Add(by_rpc).Increment(record.prompt_tokens);
  }
  if (record.generated_tokens > 0) {
    families_->generated_tokens.Add(by_rpc).Increment(record.generated_tokens);
  }
  if (record.cached_prompt_tokens > 0) {
    families_->cached_prompt_tokens.Add(by_rpc).Increment(record.cached_prompt_tokens);
  }
}

}  // namespace lmeye
