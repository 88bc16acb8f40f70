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
#include "server/edge/grpc_server_options.h"

namespace lmeye {

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
