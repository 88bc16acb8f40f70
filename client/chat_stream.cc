#include "client/chat_stream.h"

namespace lmeye::client {

StreamOutcome ReadChatStream(grpc::ClientReaderInterface<lmeye::v1::ChatResponse>* reader,
                             std::chrono::steady_clock::time_point start,
                             const std::function<void(const std::string&)>& on_delta) {
  using Seconds = std::chrono::duration<double>;
  StreamOutcome outcome;
  bool first = true;
  lmeye::v1::ChatResponse response;
  while (reader->Read(&response)) {
    if (first) {
      outcome.ttft_seconds = Seconds(std::chrono::steady_clock::now() - start).count();
      first = false;
    }
    if (response.has_final()) {
      outcome.has_final = true;
      outcome.final_message = response.final();
    } else if (on_delta) {
      on_delta(response.delta());
    }
  }
  outcome.status = reader->Finish();
  outcome.e2e_seconds = Seconds(std::chrono::steady_clock::now() - start).count();
  if (first) outcome.ttft_seconds = outcome.e2e_seconds;
  return outcome;
}

}  // namespace lmeye::client
