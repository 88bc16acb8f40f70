// Reading one streamed answer (Chat, DescribeStream): text deltas as they arrive, then the final
// message and the status, with the client-side time to first text and end to end.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include <chrono>
#include <functional>
#include <string>

#include "lmeye/v1/lmeye.pb.h"

namespace lmeye::client {

struct StreamOutcome {
  grpc::Status status;
  bool has_final = false;
  lmeye::v1::Final final_message;
  double ttft_seconds = 0;  // start -> first delta (-> the final message when no delta came)
  double e2e_seconds = 0;   // start -> status
};

// Reads `reader` to the end, calling `on_delta` with each text piece (may be empty), then
// Finish()es it. `start` is when the call was made.
StreamOutcome ReadChatStream(grpc::ClientReaderInterface<lmeye::v1::ChatResponse>* reader,
                             std::chrono::steady_clock::time_point start,
                             const std::function<void(const std::string&)>& on_delta);

}  // namespace lmeye::client
