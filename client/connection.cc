#include "client/connection.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lmeye::client {

absl::StatusOr<std::string> ReadLocalFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  if (in) buffer << in.rdbuf();
  if (!in || in.bad()) {
    return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read \"", path, "\""));
  }
  return buffer.str();
}

absl::StatusOr<Connection> Connection::Create(const ConnectionFlags& flags, bool own_connection) {
  Connection connection;
  connection.timeout_seconds_ = flags.timeout_seconds;
  connection.token_ = flags.token;
  if (!flags.token_file.empty()) {
    auto text = ReadLocalFile("token-file", flags.token_file);
    if (!text.ok()) return text.status();
    // The first line that is neither empty nor a comment, as the server's token file.
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty() && line[0] != '#') {
        connection.token_ = std::string(line.data(), line.size());
        break;
      }
    }
    if (connection.token_.empty()) {
      return absl::NotFoundError(
          absl::StrCat("--token-file: no token in \"", flags.token_file, "\""));
    }
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (flags.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!flags.ca_file.empty()) {
      auto ca = ReadLocalFile("ca", flags.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!flags.cert_file.empty()) {
      auto cert = ReadLocalFile("cert", flags.cert_file);
      if (!cert.ok()) return cert.status();
      auto key = ReadLocalFile("key", flags.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // the server's limit is the one that matters
  args.SetMaxSendMessageSize(-1);
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  connection.channel_ = grpc::CreateCustomChannel(flags.server, credentials, args);
  return connection;
}

void Connection::Prepare(grpc::ClientContext* context) const {
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  if (timeout_seconds_ > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(
                              std::chrono::duration<double>(timeout_seconds_)));
  }
}

}  // namespace lmeye::client
