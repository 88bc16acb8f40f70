// lmeye_client vqa: AnswerVQA, short or long style, or multiple choice with --choices.
#include <string>

#include "client/commands.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/messages.h"
#include "lmeye/v1/lmeye.grpc.pb.h"

namespace lmeye::client {

int RunVqa(const ClientOptions& options, std::ostream& out) {
  auto image = ReadLocalFile("image", options.image);
  if (!image.ok()) return ReportLocalError(image.status());
  auto connection = Connection::Create(options.connection);
  if (!connection.ok()) return ReportLocalError(connection.status());
  auto stub = lmeye::v1::Lmeye::NewStub(connection->channel());

  lmeye::v1::AnswerVQARequest request;
  request.set_image(*std::move(image));
  request.set_question(options.question);
  request.set_style(options.long_answer ? lmeye::v1::ANSWER_STYLE_LONG
                                        : lmeye::v1::ANSWER_STYLE_SHORT);
  for (const std::string& choice : options.choices) request.add_choices(choice);
  FillGenerationParams(options.generation, request.mutable_params());

  grpc::ClientContext context;
  connection->Prepare(&context);
  lmeye::v1::AnswerVQAResponse response;
  grpc::Status status = stub->AnswerVQA(&context, request, &response);
  if (!status.ok()) return ReportRpcError("vqa", status);
  if (options.json) {
    out << ToJson(response) << "\n";
  } else {
    // The answer alone on the first line, so `| head -1` gives it; then the scores.
    out << response.answer() << "\n" << FormatChoiceScores(response);
  }
  if (options.stats) std::cerr << FormatFinal(response.final()) << "\n";
  return kExitOk;
}

}  // namespace lmeye::client
