// Optional bearer-token authentication of the Lmeye API.
//
// A client sends `authorization: Bearer <token>` metadata; the token must be one of those read
// from the token file (one per line; blank lines and lines starting with '#' ignored; surrounding
// whitespace trimmed). Missing metadata, another scheme or an unknown token: UNAUTHENTICATED.
//
// Where it is checked: each Lmeye handler calls Authorize() first, so grpc.health.v1 and server
// reflection (other services) stay open without any method-name list. A server interceptor in
// gRPC 1.51 cannot end an RPC with a status of its choosing (only cancel it), and an
// AuthMetadataProcessor works only with TLS credentials, while tokens must work over plaintext
// behind a TLS-terminating proxy too.
//
// Threading: immutable after construction; Authorize may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

class BearerTokenAuth {
 public:
  // InvalidArgument if the file cannot be read or holds no token (a configured but empty file
  // would lock every client out, which is never what was meant).
  static absl::StatusOr<std::unique_ptr<BearerTokenAuth>> FromFile(const std::string& path);
  // The same from the file's text; `source` names it in errors.
  static absl::StatusOr<std::unique_ptr<BearerTokenAuth>> FromText(absl::string_view text,
                                                                   absl::string_view source);

  // OK, or UNAUTHENTICATED with a message that says what was wrong but never echoes the token.
  absl::Status Authorize(const grpc::ServerContextBase& context) const;
  // The check on the metadata value alone (the `authorization` header; nullopt when absent).
  absl::Status AuthorizeHeader(std::optional<absl::string_view> header) const;

  size_t n_tokens() const { return tokens_.size(); }

 private:
  explicit BearerTokenAuth(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  std::vector<std::string> tokens_;
};

}  // namespace lmeye
