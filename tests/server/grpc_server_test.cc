// The grpc::Server around the service: health statuses, reflection, message size limit,
// graceful shutdown, option checks, and TLS / mTLS with throwaway certificates made by
// `openssl` at test time (skipped where openssl is missing).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/edge/grpc_server.h"
#include "tests/server/server_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::FakeBackend;
using ::lmeye::testing::HealthCheck;
using ::lmeye::testing::TestServer;
using ::lmeye::testing::TestServerConfig;
using ::testing::HasSubstr;

constexpr int kServing = 1;
constexpr int kNotServing = 2;

grpc::Status ModelInfo(v1::Lmeye::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ModelInfo info;
  return stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
}

TEST(GrpcHealth, NotServingUntilReadyThenTogglesWithSetServing) {
  TestServerConfig config;
  config.serving = false;  // loading
  TestServer server(config);
  auto channel = server.Channel();
  EXPECT_EQ(HealthCheck(channel.get(), ""), kNotServing);
  EXPECT_EQ(HealthCheck(channel.get(), "lmeye.v1.Lmeye"), kNotServing);
  server.server().SetServing(true);
  EXPECT_EQ(HealthCheck(channel.get(), ""), kServing);
  EXPECT_EQ(HealthCheck(channel.get(), "lmeye.v1.Lmeye"), kServing);
  server.server().SetServing(false);  // draining
  EXPECT_EQ(HealthCheck(channel.get(), ""), kNotServing);
  EXPECT_EQ(HealthCheck(channel.get(), "lmeye.v1.Lmeye"), kNotServing);
  grpc::Status unknown;
  EXPECT_EQ(HealthCheck(channel.get(), "no.such.Service", &unknown), -1);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(GrpcReflection, ListsTheApiAndHealth) {
  TestServer server;
  auto channel = server.Channel();
  std::string services;
  grpc::Status status = testing::ReflectionListServices(channel.get(), &services);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(services, HasSubstr("lmeye.v1.Lmeye"));
  EXPECT_THAT(services, HasSubstr("grpc.health.v1.Health"));
  EXPECT_THAT(services, HasSubstr("grpc.reflection.v1alpha.ServerReflection"));
}

TEST(GrpcServer, PicksAPortAndEnforcesTheMessageSizeLimit) {
  TestServerConfig config;
  config.service.limits.max_image_bytes = 1 << 20;
  config.server.max_message_bytes = 64 << 10;
  TestServer server(config);
  EXPECT_GT(server.server().port(), 0);
  auto stub = server.Stub();
  grpc::ClientContext context;
  v1::DescribeRequest request;
  request.set_image(std::string(100 << 10, 'x'));
  v1::DescribeResponse response;
  EXPECT_EQ(stub->Describe(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(server.backend().n_calls(), 0u);
}

TEST(GrpcServer, ShutdownCancelsWhatOutlivesTheGrace) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.hold = true;
  server.backend().set_script(script);
  auto stub = server.Stub();
  grpc::Status status;
  std::thread client([&] {
    grpc::ClientContext context;
    v1::DescribeRequest request;
    request.set_image("x");
    v1::DescribeResponse response;
    status = stub->Describe(&context, request, &response);
  });
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  const absl::Time start = absl::Now();
  server.server().Shutdown(absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  client.join();
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(call->cancelled.load());
  server.server().Shutdown(absl::ZeroDuration());  // again: a no-op
}

TEST(GrpcServerOptions, InvalidCombinationsNameTheField) {
  GrpcServerOptions options;
  options.tls_cert_file = "cert.pem";
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("tls_key_file"));
  options = GrpcServerOptions();
  options.tls_client_ca_file = "ca.pem";
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("tls_client_ca_file"));
  options = GrpcServerOptions();
  options.max_message_bytes = 0;
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("max_message_bytes"));
  options = GrpcServerOptions();
  options.keepalive_time = absl::Seconds(-1);
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("keepalive_time"));
  EXPECT_TRUE(GrpcServerOptions().Validate().ok());

  options = GrpcServerOptions();
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = "/no/such/cert.pem";
  options.tls_key_file = "/no/such/key.pem";
  auto server = GrpcServer::Start(options, {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("tls_cert_file"));
}

// --- TLS. ---

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, both signed by
// the CA, made with openssl in a fresh directory. Empty when openssl is not available.
std::string MakeCertificates() {
  if (std::system("openssl version > /dev/null 2>&1") != 0) return "";
  const std::string dir = ::testing::TempDir() + "/lmeye_tls_" + std::to_string(::getpid());
  const std::string script = R"(
set -e
mkdir -p "$D" && cd "$D"
KEY="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $KEY -keyout ca.key -out ca.crt -days 3650 -subj "/CN=lmeye test CA"
openssl req $KEY -keyout server.key -out server.csr -subj "/CN=localhost"
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile server.ext -out server.crt
openssl req $KEY -keyout client.key -out client.csr -subj "/CN=lmeye test client"
printf "extendedKeyUsage=clientAuth\n" > client.ext
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile client.ext -out client.crt
)";
  const std::string script_path = ::testing::TempDir() + "/lmeye_make_certs.sh";
  std::ofstream(script_path) << script;
  const std::string command = "D='" + dir + "' sh " + script_path + " > /dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return "";
  return dir;
}

class GrpcTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new std::string(MakeCertificates()); }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    if (dir_->empty()) GTEST_SKIP() << "openssl is not available to make test certificates";
  }

  static std::string File(const char* name) { return *dir_ + "/" + name; }

  TestServerConfig TlsConfig(bool mutual) {
    TestServerConfig config;
    config.server.tls_cert_file = File("server.crt");
    config.server.tls_key_file = File("server.key");
    if (mutual) config.server.tls_client_ca_file = File("ca.crt");
    return config;
  }

  static std::unique_ptr<v1::Lmeye::Stub> TlsStub(const TestServer& server, bool client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(File("ca.crt"));
    if (client_cert) {
      ssl.pem_private_key = ReadAll(File("client.key"));
      ssl.pem_cert_chain = ReadAll(File("client.crt"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return v1::Lmeye::NewStub(
        grpc::CreateCustomChannel(server.address(), grpc::SslCredentials(ssl), args));
  }

  static std::string* dir_;
};

std::string* GrpcTls::dir_ = nullptr;

TEST_F(GrpcTls, TlsClientIsServedPlaintextClientIsNot) {
  TestServer server(TlsConfig(/*mutual=*/false));
  auto tls = TlsStub(server, /*client_cert=*/false);
  grpc::Status status = ModelInfo(*tls);
  EXPECT_TRUE(status.ok()) << status.error_message();
  auto plain = server.Stub();
  EXPECT_EQ(ModelInfo(*plain).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTls, MutualTlsNeedsAClientCertificateSignedByTheCa) {
  TestServer server(TlsConfig(/*mutual=*/true));
  auto with_cert = TlsStub(server, /*client_cert=*/true);
  grpc::Status status = ModelInfo(*with_cert);
  EXPECT_TRUE(status.ok()) << status.error_message();
  auto without_cert = TlsStub(server, /*client_cert=*/false);
  EXPECT_FALSE(ModelInfo(*without_cert).ok());
}

// Issue 29: each of these exited with "listen: cannot bind 127.0.0.1:0".
TEST_F(GrpcTls, BadFilesAreNamedWithTheirProblem) {
  const std::string garbage = ::testing::TempDir() + "/lmeye_tls_garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  const std::string corrupt = ::testing::TempDir() + "/lmeye_tls_corrupt.pem";
  std::ofstream(corrupt) << "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n";
  const std::string corrupt_key = ::testing::TempDir() + "/lmeye_tls_corrupt.key";
  std::ofstream(corrupt_key)
      << "-----BEGIN PRIVATE KEY-----\nAAAA!!!!\n-----END PRIVATE KEY-----\n";
  struct Case {
    std::string cert, key, ca;
    std::vector<std::string> message;  // substrings of the error
  } cases[] = {
      {File("server.crt"),
       File("client.key"),
       "",
       {"tls_key_file: " + File("client.key"),
        "does not match the certificate in tls_cert_file (" + File("server.crt") + ")"}},
      {garbage, File("server.key"), "", {"tls_cert_file: " + garbage, "no PEM certificate"}},
      {corrupt,
       File("server.key"),
       "",
       {"tls_cert_file: " + corrupt, "certificate 1 is not a valid PEM certificate"}},
      {File("server.crt"), garbage, "", {"tls_key_file: " + garbage, "no PEM private key"}},
      {File("server.crt"),
       corrupt_key,
       "",
       {"tls_key_file: " + corrupt_key, "not a valid PEM private key"}},
      {File("server.crt"),
       File("server.crt"),
       "",
       {"tls_key_file: " + File("server.crt"), "no PEM private key"}},
      {File("server.crt"),
       File("server.key"),
       garbage,
       {"tls_client_ca_file: " + garbage, "no PEM certificate"}},
      {File("server.crt"),
       File("server.key"),
       File("ca.key"),
       {"tls_client_ca_file: " + File("ca.key"), "no PEM certificate"}},
      {File("server.crt"),
       File("server.key"),
       "/no/such/ca.pem",
       {"tls_client_ca_file: ", "/no/such/ca.pem"}},
  };
  for (const Case& c : cases) {
    GrpcServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls_cert_file = c.cert;
    options.tls_key_file = c.key;
    options.tls_client_ca_file = c.ca;
    auto server = GrpcServer::Start(options, {});
    ASSERT_FALSE(server.ok()) << c.cert << " " << c.key << " " << c.ca;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << server.status();
    for (const std::string& part : c.message) {
      EXPECT_THAT(std::string(server.status().message()), HasSubstr(part));
    }
  }
}

// The check accepts what gRPC accepts: a chain with its CA after the leaf.
TEST_F(GrpcTls, ACertificateChainIsAccepted) {
  const std::string chain = ::testing::TempDir() + "/lmeye_tls_chain.pem";
  std::ofstream(chain) << ReadAll(File("server.crt")) << ReadAll(File("ca.crt"));
  TestServerConfig config = TlsConfig(/*mutual=*/false);
  config.server.tls_cert_file = chain;
  TestServer server(config);
  grpc::Status status = ModelInfo(*TlsStub(server, /*client_cert=*/false));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace lmeye
