// lmeye_client info: GetModelInfo.
#include "client/commands.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/messages.h"
#include "lmeye/v1/lmeye.grpc.pb.h"

namespace lmeye::client {

int RunInfo(const ClientOptions& options, std::ostream& out) {
  auto connection = Connection::Create(options.connection);
  if (!connection.ok()) return ReportLocalError(connection.status());
  auto stub = lmeye::v1::Lmeye::NewStub(connection->channel());
  grpc::ClientContext context;
  connection->Prepare(&context);
  lmeye::v1::ModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, lmeye::v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return ReportRpcError("info", status);
  out << (options.json ? ToJson(info) + "\n" : FormatModelInfo(info));
  return kExitOk;
}

}  // namespace lmeye::client
