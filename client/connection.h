// The channel to the server and what every call carries: credentials (TLS, mTLS), the bearer
// token and the deadline. Built once from ConnectionFlags; local files (token, certificates) are
// read here, so a missing one is reported before any call (NOT_FOUND -> exit code 8).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/client_options.h"

namespace lmeye::client {

class Connection {
 public:
  // `own_connection`: a TCP connection of its own rather than one shared with other channels to
  // the same server (the load generator's clients must not multiplex over one connection).
  // NOT_FOUND naming the flag when a file cannot be read.
  static absl::StatusOr<Connection> Create(const ConnectionFlags& flags,
                                           bool own_connection = false);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Adds the `authorization` metadata and the deadline to a fresh context. Call once per RPC.
  void Prepare(grpc::ClientContext* context) const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
  double timeout_seconds_ = 0;
};

// The whole file, or NOT_FOUND "<flag>: cannot read <path>".
absl::StatusOr<std::string> ReadLocalFile(const std::string& flag, const std::string& path);

}  // namespace lmeye::client
