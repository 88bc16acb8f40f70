// What the gRPC edge reports about each finished request, for the Prometheus exporter
// (lmeye_requests_total{rpc,code}, end-to-end / queue / time-to-first-token / inter-token
// latency histograms, prompt and generated token counters). The edge knows these at the moment
// an RPC ends; the exporter decides names, buckets and labels.
//
// Threads: OnRequestDone is called once per RPC that reached a handler (also for those rejected
// by validation or auth), from a gRPC callback thread or a worker's scheduler thread, possibly
// concurrently: implementations must be thread-safe and must not block.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lmeye {

struct RequestRecord {
  absl::string_view rpc;  // "Chat", "Describe", "DescribeStream", "AnswerVQA", "GetModelInfo"
  // The status the client got (absl and gRPC codes are the same numbers);
  // absl::StatusCodeToString gives the label ("OK", "INVALID_ARGUMENT", ...).
  absl::StatusCode code = absl::StatusCode::kOk;
  double e2e_seconds = 0;  // handler entered -> status sent
  // From the worker; negative when the request never got that far (rejected, cancelled early).
  double queue_seconds = -1;
  double time_to_first_token_seconds = -1;
  // Seconds between successive streamed text pieces (streaming RPCs; empty otherwise). A piece
  // is usually one token; a token that completes no UTF-8 character yet joins the next piece.
  std::vector<double> inter_token_seconds;
  int prompt_tokens = 0;
  int generated_tokens = 0;
  int cached_prompt_tokens = 0;
};

class RequestMetrics {
 public:
  virtual ~RequestMetrics() = default;
  virtual void OnRequestDone(const RequestRecord& record) = 0;
};

}  // namespace lmeye
