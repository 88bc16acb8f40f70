// The two reactor kinds that join one RPC to one InferenceCall (docs/STYLE.md 7: the gRPC callback
// API, no completion-queue state machines).
//
// StreamCall (Chat, DescribeStream): a ServerWriteReactor fed by a bounded queue. The worker's
// sink pushes text pieces and the final message without blocking; the reactor writes one message
// at a time. When the queue is full (a slow client), further pieces are appended to the last
// queued piece instead of queuing more messages: the worker is never blocked, memory stays
// bounded by the answer's text, and the client still gets every byte in order.
//
// UnaryCall (Describe, AnswerVQA): a ServerUnaryReactor finished by the worker's OnDone.
//
// Ownership: a call object is shared by gRPC (until its OnDone reaction) and by the sink the
// worker holds (until the worker drops the InferenceCall), so a worker finishing a request after
// the RPC ended writes into a live object that simply ignores it. The call holds its
// InferenceCall weakly (the worker owns it); no ownership cycle.
//
// Cancellation: when the client cancels or its deadline passes (OnCancel), the call sets
// InferenceCall::cancelled for the worker and finishes the RPC at once (CANCELLED, or
// DEADLINE_EXCEEDED when the deadline has passed) without waiting for the worker.
//
// Threads: the handler thread (Submit/Reject), gRPC reaction threads and the worker's thread;
// all state behind one mutex, and gRPC is never called with it held.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lmeye/v1/lmeye.pb.h"
#include "server/edge/request_metrics.h"
#include "server/runtime/inference.h"

namespace lmeye {

// Why a call that gRPC cancelled ended: DEADLINE_EXCEEDED once its deadline has passed (within
// the slack of gRPC's deadline timer), else CANCELLED (the client went away).
grpc::Status CancelStatus(const grpc::CallbackServerContext& context);

// What a call measures for RequestMetrics, filled as the request progresses.
class CallMeter {
 public:
  CallMeter(absl::string_view rpc, RequestMetrics* metrics)
      : rpc_(rpc.data(), rpc.size()), metrics_(metrics), start_(absl::Now()) {}

  void OnText(absl::Time now);
  void OnResult(const InferenceResult& result);
  // Reports to the metrics sink (if any); call once.
  void Report(absl::StatusCode code);

 private:
  std::string rpc_;
  RequestMetrics* metrics_;
  absl::Time start_;
  std::optional<absl::Time> last_text_;
  RequestRecord record_;
};

// Reports an RPC that ended at the edge without reaching a worker (bad argument, auth,
// GetModelInfo).
void ReportEndedAtEdge(absl::string_view rpc, RequestMetrics* metrics, absl::Time start,
                       absl::StatusCode code);

class StreamCall final : public grpc::ServerWriteReactor<v1::ChatResponse> {
 public:
  // Most messages queued for the client before text pieces are merged.
  static constexpr size_t kMaxQueuedMessages = 64;

  // The returned reactor is what the handler returns to gRPC; it deletes itself.
  static StreamCall* Create(grpc::CallbackServerContext* context, absl::string_view rpc,
                            RequestMetrics* metrics);

  // The handler calls exactly one of these once.
  void Reject(const absl::Status& status);
  // Submits `request`; a Submit error finishes the RPC with it.
  void Submit(InferenceBackend* backend, InferenceRequest request);

  // From the worker, through the sink.
  void OnWorkerText(absl::string_view delta);
  void OnWorkerDone(absl::StatusOr<InferenceResult> result);

  // gRPC reactions.
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  StreamCall(grpc::CallbackServerContext* context, absl::string_view rpc, RequestMetrics* metrics)
      : context_(context), meter_(rpc, metrics) {}

  // Sets the status the RPC ends with, unless one is set; drops queued messages if not OK.
  void EndLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next write, or Finish once the queue is empty and the end is known.
  void Pump();

  grpc::CallbackServerContext* const context_;
  std::shared_ptr<StreamCall> self_;  // gRPC's reference, dropped in OnDone

  absl::Mutex mu_;
  CallMeter meter_ ABSL_GUARDED_BY(mu_);
  std::weak_ptr<InferenceCall> call_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ChatResponse> queue_ ABSL_GUARDED_BY(mu_);
  v1::ChatResponse writing_;  // owned by the write in flight
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool streamed_text_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
};

class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  // Fills the RPC's response from a successful result; called at most once, before Finish.
  using FillResponse = std::function<void(const InferenceResult&)>;

  static UnaryCall* Create(grpc::CallbackServerContext* context, absl::string_view rpc,
                           RequestMetrics* metrics, FillResponse fill);

  void Reject(const absl::Status& status);
  void Submit(InferenceBackend* backend, InferenceRequest request);

  void OnWorkerDone(absl::StatusOr<InferenceResult> result);

  void OnCancel() override;
  void OnDone() override;

 private:
  UnaryCall(grpc::CallbackServerContext* context, absl::string_view rpc, RequestMetrics* metrics,
            FillResponse fill)
      : context_(context), meter_(rpc, metrics), fill_(std::move(fill)) {}

  // Finishes the RPC with `status` unless it was finished already.
  void FinishOnce(const grpc::Status& status, const InferenceResult* result);

  grpc::CallbackServerContext* const context_;
  std::shared_ptr<UnaryCall> self_;

  absl::Mutex mu_;
  CallMeter meter_ ABSL_GUARDED_BY(mu_);
  FillResponse fill_ ABSL_GUARDED_BY(mu_);
  std::weak_ptr<InferenceCall> call_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace lmeye
