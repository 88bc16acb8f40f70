// The PEM files of the server's TLS (grpc_server_options.h), read and checked before gRPC sees
// them.
//
// Why: gRPC only parses them when the listening port is created, and then reports every problem
// (a key that does not match the certificate, a file that is not PEM, a CA bundle without a
// certificate) as a port that cannot be bound: `listen: cannot bind 127.0.0.1:0`.
// Checked here with OpenSSL (the library gRPC itself uses on Debian), each problem is
// INVALID_ARGUMENT naming the option, the file and what is wrong with it.
//
// Threading: a free function; call from any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "server/edge/grpc_server_options.h"

namespace lmeye {

struct TlsFiles {
  std::string cert_chain;  // PEM: the server certificate first, then its intermediates
  std::string private_key;
  std::string client_ca;  // PEM CA bundle; empty without mTLS
};

// Reads options.tls_cert_file, tls_key_file and tls_client_ca_file (when set) and checks that
// each is readable and parses (at least one certificate; an unencrypted private key), and that
// the key belongs to the first certificate of the chain. Call only with TLS configured.
absl::StatusOr<TlsFiles> LoadTlsFiles(const GrpcServerOptions& options);

}  // namespace lmeye
