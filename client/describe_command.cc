// lmeye_client describe: Describe (unary), or DescribeStream with --stream.
#include <chrono>
#include <string>

#include "client/chat_stream.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/messages.h"
#include "lmeye/v1/lmeye.grpc.pb.h"

namespace lmeye::client {

int RunDescribe(const ClientOptions& options, std::ostream& out) {
  auto image = ReadLocalFile("image", options.image);
  if (!image.ok()) return ReportLocalError(image.status());
  auto connection = Connection::Create(options.connection);
  if (!connection.ok()) return ReportLocalError(connection.status());
  auto stub = lmeye::v1::Lmeye::NewStub(connection->channel());

  lmeye::v1::DescribeRequest request;
  request.set_image(*std::move(image));
  FillGenerationParams(options.generation, request.mutable_params());
  grpc::ClientContext context;
  connection->Prepare(&context);

  if (options.stream) {
    // --json: every ChatResponse as one JSON line, the final message last.
    auto reader = stub->DescribeStream(&context, request);
    StreamOutcome outcome = ReadChatStream(reader.get(), std::chrono::steady_clock::now(),
                                           [&](const std::string& delta) {
                                             if (options.json) {
                                               lmeye::v1::ChatResponse response;
                                               response.set_delta(delta);
                                               out << ToJson(response) << "\n" << std::flush;
                                             } else {
                                               out << delta << std::flush;
                                             }
                                           });
    if (!outcome.status.ok()) {
      if (!options.json) out << "\n";
      return ReportRpcError("describe", outcome.status);
    }
    if (options.json) {
      lmeye::v1::ChatResponse last;
      *last.mutable_final() = outcome.final_message;
      out << ToJson(last) << "\n";
    } else {
      out << "\n";
    }
    if (options.stats) std::cerr << FormatFinal(outcome.final_message) << "\n";
    return kExitOk;
  }

  lmeye::v1::DescribeResponse response;
  grpc::Status status = stub->Describe(&context, request, &response);
  if (!status.ok()) return ReportRpcError("describe", status);
  out << (options.json ? ToJson(response) : response.text()) << "\n";
  if (options.stats) std::cerr << FormatFinal(response.final()) << "\n";
  return kExitOk;
}

}  // namespace lmeye::client
