// lmeye_client's exit codes: what a script can rely on. One code per failure class, so that a
// wrapper can retry UNAVAILABLE, fix its input on INVALID_ARGUMENT, and refresh credentials on
// UNAUTHENTICATED without parsing messages. Errors go to stderr as
// "lmeye_client: <what>: <GRPC_CODE_NAME>: <message>".
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace lmeye::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitOther = 1,              // any other gRPC failure (INTERNAL, CANCELLED, UNKNOWN, ...)
  kExitUsage = 2,              // bad command line: unknown flag, missing or malformed value
  kExitUnavailable = 3,        // server unreachable, loading or draining (UNAVAILABLE)
  kExitInvalidArgument = 4,    // the server rejected the request (INVALID_ARGUMENT,
                               // FAILED_PRECONDITION, OUT_OF_RANGE)
  kExitUnauthenticated = 5,    // missing or wrong token or certificate (UNAUTHENTICATED,
                               // PERMISSION_DENIED)
  kExitDeadlineExceeded = 6,   // --timeout passed (DEADLINE_EXCEEDED)
  kExitResourceExhausted = 7,  // server queue full, prompt too long (RESOURCE_EXHAUSTED)
  kExitLocalInput = 8,         // a local file (image, token, certificate, questions) unreadable
};

// The exit code for a gRPC status code (kExitOk for OK).
int ExitCodeForStatus(grpc::StatusCode code);

// "OK", "INVALID_ARGUMENT", ...: the canonical gRPC code name.
const char* StatusCodeName(grpc::StatusCode code);

// Prints "lmeye_client: <what>: <CODE>: <message>" to stderr and returns the exit code.
int ReportRpcError(const std::string& what, const grpc::Status& status);

// For failures before any RPC (local files, flags): prints "lmeye_client: <message>" and returns
// kExitLocalInput for NOT_FOUND, kExitUsage for INVALID_ARGUMENT, kExitOther otherwise.
int ReportLocalError(const absl::Status& status);

// The exit-code table for --help.
const char* ExitCodesHelp();

}  // namespace lmeye::client
