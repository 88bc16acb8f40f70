// absl::Status inside, grpc::Status at the edge (docs/STYLE.md 5): the one place they are
// converted.
// The canonical codes are the same numbers in both libraries, so the code and message carry over
// unchanged; payloads are dropped (nothing in the API reads them).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace lmeye {

grpc::Status ToGrpcStatus(const absl::Status& status);

// For clients and tests that call back into absl code.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace lmeye
