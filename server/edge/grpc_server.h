// The grpc::Server that hosts the Lmeye service: listen address, plaintext / TLS / mTLS, message
// size limit, keepalive knobs, the standard grpc.health.v1 service and server reflection.
//
// Health: the overall status ("") and "lmeye.v1.Lmeye" start NOT_SERVING, so a load balancer
// sends nothing while the model loads; the serve main calls SetServing(true) when the workers
// are ready, and Shutdown() (graceful drain) turns them NOT_SERVING before it stops accepting.
// Health and reflection never need a bearer token (auth.h).
//
// Threads: Start, SetServing, Shutdown and Wait may be called from any thread; Shutdown may be
// called more than once (the later calls return at once).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
  absl::Status Validate() const;
};

// A service to host and the name its health status is kept under ("lmeye.v1.Lmeye":
// v1::Lmeye::service_full_name()).
struct HostedService {
  grpc::Service* service;  // not owned; must outlive the server
  std::string name;
};

class GrpcServer {
 public:
  // Builds the server, registers `services`, starts listening. Health starts NOT_SERVING. Errors:
  // InvalidArgument for bad options or unreadable TLS files, Unavailable when the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                           std::vector<HostedService> services);

  // Shuts down with no grace if Shutdown was not called.
  ~GrpcServer();

  // The bound port (the picked one when the options said port 0).
  int port() const { return port_; }

  // SERVING / NOT_SERVING for the overall status and every registered service name.
  void SetServing(bool serving);

  // Graceful drain: health NOT_SERVING, stop accepting RPCs, let in-flight RPCs finish for up to
  // `grace`, then cancel what is left. Returns when the server has stopped.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown has completed (from another thread).
  void Wait();

  grpc::Server* server() { return server_.get(); }

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::vector<std::string> names)
      : server_(std::move(server)), port_(port), service_names_(std::move(names)) {}

  std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::vector<std::string> service_names_;  // for per-service health statuses
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace lmeye
