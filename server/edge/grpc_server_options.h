// What the grpc::Server (grpc_server.h) is built with: address, TLS files, message size limit,
// keepalive and connection lifetime. gRPC-free and plain, so that the server config
// (server/modes/config.h) holds one as its section and hands it over whole.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace lmeye {

struct GrpcServerOptions {
  // host:port; port 0 picks a free port (see GrpcServer::port()).
  std::string listen = "0.0.0.0:50051";
  // PEM files. Both set: TLS; both empty: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA bundle, with TLS only: clients must present a certificate it signed (mTLS).
  std::string tls_client_ca_file;
  // Largest request or response message, bytes (images arrive inside requests).
  int64_t max_message_bytes = 32 << 20;
  // Server-initiated HTTP/2 pings find dead connections (clients that vanished behind a NAT or
  // load balancer): a ping after this much idle time, the connection dropped when no answer
  // comes within keepalive_timeout.
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Clients may send keepalive pings this often, no more, and also when they have no call in
  // flight if permit_keepalive_without_calls. After max_ping_strikes pings too early the
  // connection is closed with GOAWAY (0: never).
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  bool permit_keepalive_without_calls = false;
  int max_ping_strikes = 2;
  // Close idle connections / recycle old ones (for load balancers to rebalance), giving calls
  // on a recycled connection max_connection_age_grace to finish. 0: never / unlimited.
  absl::Duration max_connection_idle = absl::ZeroDuration();
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::ZeroDuration();
  // Concurrent RPCs on one connection; 0: gRPC's default (unlimited).
  int max_concurrent_streams = 0;
  bool reflection = true;

  // InvalidArgument naming the field (cert without key, CA without TLS, negative durations).
  // Defined with the server (grpc_server.cc).
  absl::Status Validate() const;
};

}  // namespace lmeye
