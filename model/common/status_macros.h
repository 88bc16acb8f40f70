// Early-return helpers for absl::Status / absl::StatusOr (the abseil release in Debian bookworm
// predates absl's own status macros).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LMEYE_STATUS_CONCAT_INNER_(a, b) a##b
#define LMEYE_STATUS_CONCAT_(a, b) LMEYE_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define LMEYE_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status lmeye_status_ = (expr);         \
    if (!lmeye_status_.ok()) return lmeye_status_; \
  } while (0)

// `LMEYE_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from an absl::StatusOr, or returns its
// error from the enclosing function.
#define LMEYE_ASSIGN_OR_RETURN(lhs, rexpr) \
  LMEYE_ASSIGN_OR_RETURN_IMPL_(LMEYE_STATUS_CONCAT_(lmeye_statusor_, __LINE__), lhs, rexpr)

#define LMEYE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
