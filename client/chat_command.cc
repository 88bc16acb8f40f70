// lmeye_client chat: a conversation about one image (or none). The whole history is sent with
// every turn (the server is stateless; its prefix cache makes the repeated prefix cheap).
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "client/chat_stream.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/messages.h"
#include "lmeye/v1/lmeye.grpc.pb.h"

namespace lmeye::client {
namespace {

// Failures after which an interactive session can go on with the next line: the turn was
// refused, not the connection.
bool TurnCanBeRetried(int exit_code) {
  return exit_code == kExitInvalidArgument || exit_code == kExitDeadlineExceeded ||
         exit_code == kExitResourceExhausted;
}

}  // namespace

int RunChat(const ClientOptions& options, std::istream& in, std::ostream& out) {
  std::string image;
  if (!options.image.empty()) {
    auto bytes = ReadLocalFile("image", options.image);
    if (!bytes.ok()) return ReportLocalError(bytes.status());
    image = *std::move(bytes);
  }
  auto connection = Connection::Create(options.connection);
  if (!connection.ok()) return ReportLocalError(connection.status());
  auto stub = lmeye::v1::Lmeye::NewStub(connection->channel());

  std::vector<lmeye::v1::Message> history;
  // One turn: sends the history plus `text`, streams the answer; on success both join the
  // history. Returns the exit code.
  auto turn = [&](const std::string& text) -> int {
    lmeye::v1::ChatRequest request;
    request.set_image(image);
    for (const auto& m : history) *request.add_messages() = m;
    lmeye::v1::Message* human = request.add_messages();
    human->set_role("human");
    human->set_text(text);
    FillGenerationParams(options.generation, request.mutable_params());

    grpc::ClientContext context;
    connection->Prepare(&context);
    const auto start = std::chrono::steady_clock::now();
    auto reader = stub->Chat(&context, request);
    StreamOutcome outcome = ReadChatStream(
        reader.get(), start, [&out](const std::string& delta) { out << delta << std::flush; });
    out << "\n" << std::flush;
    if (!outcome.status.ok()) return ReportRpcError("chat", outcome.status);
    if (options.stats) std::cerr << FormatFinal(outcome.final_message) << "\n";
    history.push_back(*human);
    lmeye::v1::Message assistant;
    assistant.set_role("assistant");
    assistant.set_text(outcome.final_message.text());
    history.push_back(std::move(assistant));
    return kExitOk;
  };

  if (options.message) return turn(*options.message);

  const bool interactive = isatty(STDIN_FILENO) != 0;
  int last_failure = kExitOk;
  std::string line;
  while (true) {
    if (interactive) std::cerr << "> " << std::flush;
    if (!std::getline(in, line)) break;
    const std::string text(absl::StripAsciiWhitespace(line));
    if (text.empty()) continue;
    if (text == "/quit" || text == "/exit") break;
    if (text == "/reset") {
      history.clear();
      continue;
    }
    const int code = turn(text);
    if (code == kExitOk) continue;
    if (!TurnCanBeRetried(code)) return code;
    last_failure = code;  // the turn is dropped from the history; the session goes on
  }
  return last_failure;
}

}  // namespace lmeye::client
