#include "client/exit_codes.h"

#include <iostream>

namespace lmeye::client {

int ExitCodeForStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::UNAVAILABLE:
      return kExitUnavailable;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return kExitInvalidArgument;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitUnauthenticated;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitDeadlineExceeded;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return kExitResourceExhausted;
    default:
      return kExitOther;
  }
}

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "UNKNOWN";
  }
}

int ReportRpcError(const std::string& what, const grpc::Status& status) {
  std::cerr << "lmeye_client: " << what << ": " << StatusCodeName(status.error_code()) << ": "
            << status.error_message() << "\n";
  return ExitCodeForStatus(status.error_code());
}

int ReportLocalError(const absl::Status& status) {
  std::cerr << "lmeye_client: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return kExitLocalInput;
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitOther;
  }
}

const char* ExitCodesHelp() {
  return "exit codes:\n"
         "  0  ok\n"
         "  1  other failure (INTERNAL, CANCELLED, UNKNOWN, ...)\n"
         "  2  usage error (bad flag or value)\n"
         "  3  server unreachable, loading or draining (UNAVAILABLE)\n"
         "  4  request rejected (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE)\n"
         "  5  not authenticated or not allowed (UNAUTHENTICATED, PERMISSION_DENIED)\n"
         "  6  --timeout passed (DEADLINE_EXCEEDED)\n"
         "  7  server overloaded or request too big (RESOURCE_EXHAUSTED)\n"
         "  8  a local file (image, token, certificate, questions) cannot be read\n";
}

}  // namespace lmeye::client
