// Turns libtorch exceptions into absl::Status at model entry points, so that a shape mismatch
// deep inside ATen becomes an error with context instead of terminating the server.
#pragma once

#include <exception>
#include <string>
#include <utility>
#include "absl/strings/string_view.h"

#include <c10/util/Exception.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace lmeye {

// The first line of a c10::Error message: libtorch appends a long C++ backtrace to what().
inline std::string FirstLine(const char* what) {
  absl::string_view s(what);
  size_t end = s.find('\n');
  return std::string(s.substr(0, end));
}

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) and converts any exception it throws
// into an INTERNAL status prefixed with `context`.
template <typename Fn>
auto GuardTorch(absl::string_view context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(context, ": ", FirstLine(e.what_without_backtrace())));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  }
}

}  // namespace lmeye
