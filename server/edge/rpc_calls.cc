#include "server/edge/rpc_calls.h"

#include <chrono>
#include <utility>

#include "server/edge/grpc_status.h"
#include "server/edge/proto_convert.h"

namespace lmeye {
namespace {

// gRPC's "no deadline" is the largest time point; anything else converts exactly.
absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// gRPC's deadline timer runs on its own clock and may fire a little before the wall-clock
// deadline() it reports; a client cancelling itself within that slack of its deadline counts as
// the deadline.
constexpr absl::Duration kDeadlineSlack = absl::Milliseconds(100);

std::shared_ptr<InferenceCall> MakeCall(const grpc::CallbackServerContext& context,
                                        InferenceRequest request,
                                        std::shared_ptr<ResponseSink> sink) {
  auto call = std::make_shared<InferenceCall>();
  call->request = std::move(request);
  call->request.deadline = DeadlineOf(context);
  call->sink = std::move(sink);
  return call;
}

// The worker's view of a call: forwards to it, keeping it alive while the worker holds the
// InferenceCall (see rpc_calls.h, Ownership).
template <typename Call>
class ForwardingSink : public ResponseSink {
 public:
  explicit ForwardingSink(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  void OnText(absl::string_view delta) override;
  void OnDone(absl::StatusOr<InferenceResult> result) override {
    call_->OnWorkerDone(std::move(result));
  }

 private:
  std::shared_ptr<Call> call_;
};

template <>
void ForwardingSink<StreamCall>::OnText(absl::string_view delta) {
  call_->OnWorkerText(delta);
}

// Unary RPCs have nowhere to stream to: the text arrives whole in the result.
template <>
void ForwardingSink<UnaryCall>::OnText(absl::string_view) {}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

}  // namespace

grpc::Status CancelStatus(const grpc::CallbackServerContext& context) {
  if (absl::Now() + kDeadlineSlack >= DeadlineOf(context)) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
}

// --- CallMeter ---

void CallMeter::OnText(absl::Time now) {
  if (last_text_.has_value()) {
    record_.inter_token_seconds.push_back(Seconds(now - *last_text_));
  } else {
    // As the client sees it (the worker's own figure stops at sampling).
    record_.time_to_first_token_seconds = Seconds(now - start_);
  }
  last_text_ = now;
}

void CallMeter::OnResult(const InferenceResult& result) {
  record_.queue_seconds = result.timings.queue_seconds;
  if (record_.time_to_first_token_seconds < 0 && result.timings.first_token_seconds > 0) {
    record_.time_to_first_token_seconds = result.timings.first_token_seconds;
  }
  record_.prompt_tokens = result.n_prompt_tokens;
  record_.generated_tokens = result.n_generated_tokens;
  record_.cached_prompt_tokens = result.n_cached_prompt_tokens;
}

void CallMeter::Report(absl::StatusCode code) {
  if (metrics_ == nullptr) return;
  record_.rpc = rpc_;
  record_.code = code;
  record_.e2e_seconds = Seconds(absl::Now() - start_);
  metrics_->OnRequestDone(record_);
}

void ReportEndedAtEdge(absl::string_view rpc, RequestMetrics* metrics, absl::Time start,
                       absl::StatusCode code) {
  if (metrics == nullptr) return;
  RequestRecord record;
  record.rpc = rpc;
  record.code = code;
  record.e2e_seconds = Seconds(absl::Now() - start);
  metrics->OnRequestDone(record);
}

// --- StreamCall ---

StreamCall* StreamCall::Create(grpc::CallbackServerContext* context, absl::string_view rpc,
                               RequestMetrics* metrics) {
  std::shared_ptr<StreamCall> call(new StreamCall(context, rpc, metrics));
  call->self_ = call;
  return call.get();
}

void StreamCall::Reject(const absl::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    EndLocked(ToGrpcStatus(status));
  }
  Pump();
}

void StreamCall::Submit(InferenceBackend* backend, InferenceRequest request) {
  std::shared_ptr<InferenceCall> call =
      MakeCall(*context_, std::move(request), std::make_shared<ForwardingSink<StreamCall>>(self_));
  {
    absl::MutexLock lock(&mu_);
    call_ = call;
  }
  absl::Status status = backend->Submit(std::move(call));
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    EndLocked(ToGrpcStatus(status));
  }
  Pump();
}

void StreamCall::OnWorkerText(absl::string_view delta) {
  if (delta.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    if (end_status_.has_value()) return;  // cancelled: the worker drops the request soon
    meter_.OnText(absl::Now());
    streamed_text_ = true;
    if (queue_.size() >= kMaxQueuedMessages && queue_.back().has_delta()) {
      queue_.back().mutable_delta()->append(delta.data(), delta.size());
    } else {
      queue_.emplace_back().set_delta(std::string(delta.data(), delta.size()));
    }
  }
  Pump();
}

void StreamCall::OnWorkerDone(absl::StatusOr<InferenceResult> result) {
  {
    absl::MutexLock lock(&mu_);
    if (end_status_.has_value()) return;
    if (result.ok()) {
      meter_.OnResult(*result);
      // Beam search streams nothing: its text arrives whole, as one delta before the final.
      if (!streamed_text_ && !result->text.empty()) {
        queue_.emplace_back().set_delta(result->text);
      }
      FillFinal(*result, queue_.emplace_back().mutable_final());
      EndLocked(grpc::Status::OK);
    } else {
      EndLocked(ToGrpcStatus(result.status()));
    }
  }
  Pump();
}

void StreamCall::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    // A failed write means the stream is broken (client gone); OnCancel may follow or not.
    if (!ok) CancelLocked();
  }
  Pump();
}

void StreamCall::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    CancelLocked();
  }
  Pump();
}

void StreamCall::OnDone() {
  // The last reaction: drop gRPC's reference. `this` may be deleted when `keep` goes.
  std::shared_ptr<StreamCall> keep = std::move(self_);
}

void StreamCall::EndLocked(const grpc::Status& status) {
  if (end_status_.has_value()) return;
  end_status_ = status;
  if (!status.ok()) queue_.clear();
}

void StreamCall::CancelLocked() {
  if (std::shared_ptr<InferenceCall> call = call_.lock()) {
    call->Cancel();
  }
  // Also when the worker had finished but the answer was still queued: the client did not get
  // it, and writing the rest into a dead stream is pointless. A worker error stays the reason.
  queue_.clear();
  if (!end_status_.has_value() || end_status_->ok()) end_status_ = CancelStatus(*context_);
}

void StreamCall::Pump() {
  bool write = false;
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_ || write_in_flight_) return;
    if (!queue_.empty()) {
      writing_ = std::move(queue_.front());
      queue_.pop_front();
      write_in_flight_ = true;
      write = true;
    } else if (end_status_.has_value()) {
      finish_called_ = true;
      finish = *end_status_;
      meter_.Report(static_cast<absl::StatusCode>(finish->error_code()));
    }
  }
  // One write at a time and Finish only with none in flight, decided above under the lock.
  if (write) {
    StartWrite(&writing_);
  } else if (finish.has_value()) {
    Finish(*finish);
  }
}

// --- UnaryCall ---

UnaryCall* UnaryCall::Create(grpc::CallbackServerContext* context, absl::string_view rpc,
                             RequestMetrics* metrics, FillResponse fill) {
  std::shared_ptr<UnaryCall> call(new UnaryCall(context, rpc, metrics, std::move(fill)));
  call->self_ = call;
  return call.get();
}

void UnaryCall::Reject(const absl::Status& status) { FinishOnce(ToGrpcStatus(status), nullptr); }

void UnaryCall::Submit(InferenceBackend* backend, InferenceRequest request) {
  std::shared_ptr<InferenceCall> call =
      MakeCall(*context_, std::move(request), std::make_shared<ForwardingSink<UnaryCall>>(self_));
  {
    absl::MutexLock lock(&mu_);
    call_ = call;
  }
  absl::Status status = backend->Submit(std::move(call));
  if (!status.ok()) FinishOnce(ToGrpcStatus(status), nullptr);
}

void UnaryCall::OnWorkerDone(absl::StatusOr<InferenceResult> result) {
  if (result.ok()) {
    FinishOnce(grpc::Status::OK, &*result);
  } else {
    FinishOnce(ToGrpcStatus(result.status()), nullptr);
  }
}

void UnaryCall::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    if (std::shared_ptr<InferenceCall> call = call_.lock()) {
      call->Cancel();
    }
  }
  FinishOnce(CancelStatus(*context_), nullptr);
}

void UnaryCall::OnDone() { std::shared_ptr<UnaryCall> keep = std::move(self_); }

void UnaryCall::FinishOnce(const grpc::Status& status, const InferenceResult* result) {
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;
    finish_called_ = true;
    // The response proto belongs to gRPC and is valid until Finish: fill it now or never.
    if (result != nullptr) {
      meter_.OnResult(*result);
      fill_(*result);
    }
    fill_ = nullptr;
    meter_.Report(static_cast<absl::StatusCode>(status.error_code()));
  }
  Finish(status);
}

}  // namespace lmeye
