// Bearer tokens: parsing the token file, checking the header, and end to end through the
// server: the Lmeye API needs a token, health and reflection do not.
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/edge/auth.h"
#include "tests/server/server_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestServer;
using ::lmeye::testing::TestServerConfig;
using ::testing::HasSubstr;

TEST(AuthTokens, ReadsOneTokenPerLineSkippingBlanksAndComments) {
  auto auth = BearerTokenAuth::FromText("# ops team\nalpha\n\n  beta  \r\n#gamma\n", "tokens");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->n_tokens(), 2u);
  EXPECT_TRUE((*auth)->AuthorizeHeader(absl::string_view("Bearer alpha")).ok());
  EXPECT_TRUE((*auth)->AuthorizeHeader(absl::string_view("Bearer beta")).ok());
  EXPECT_FALSE((*auth)->AuthorizeHeader(absl::string_view("Bearer gamma")).ok());
}

TEST(AuthTokens, RejectsFilesWithoutTokensOrWithSpacesInATokenOrMissing) {
  EXPECT_EQ(BearerTokenAuth::FromText("\n# only a comment\n", "t").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(BearerTokenAuth::FromText("two words\n", "t").status().message()),
              HasSubstr("whitespace"));
  auto missing = BearerTokenAuth::FromFile(::testing::TempDir() + "/no-such-token-file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AuthTokens, ReadsTheFile) {
  const std::string path = ::testing::TempDir() + "/lmeye_auth_tokens.txt";
  std::ofstream(path) << "s3cret\n";
  auto auth = BearerTokenAuth::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->AuthorizeHeader(absl::string_view("Bearer s3cret")).ok());
}

TEST(AuthHeader, EveryWrongFormIsUnauthenticated) {
  auto auth = BearerTokenAuth::FromText("alpha\n", "t");
  ASSERT_TRUE(auth.ok());
  const BearerTokenAuth& a = **auth;
  EXPECT_TRUE(a.AuthorizeHeader(absl::string_view("bearer alpha")).ok());  // scheme: any case
  for (const char* header : {"", "alpha", "Bearer", "Bearer ", "Basic alpha", "Bearer alph",
                             "Bearer alphaa", "Bearer ALPHA", "Bearer beta"}) {
    SCOPED_TRACE(header);
    absl::Status status = a.AuthorizeHeader(absl::string_view(header));
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("alpha")));
  }
  EXPECT_EQ(a.AuthorizeHeader(std::nullopt).code(), absl::StatusCode::kUnauthenticated);
}

class AuthServer : public ::testing::Test {
 protected:
  AuthServer() : server_(Config()) {}
  static TestServerConfig Config() {
    TestServerConfig config;
    config.tokens = "alpha\nbeta\n";
    return config;
  }

  grpc::Status CallModelInfo(const char* authorization) {
    auto stub = server_.Stub();
    grpc::ClientContext context;
    if (authorization != nullptr) context.AddMetadata("authorization", authorization);
    v1::ModelInfo info;
    return stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  }

  grpc::Status CallChat(const char* authorization) {
    auto stub = server_.Stub();
    grpc::ClientContext context;
    if (authorization != nullptr) context.AddMetadata("authorization", authorization);
    v1::ChatRequest request;
    v1::Message* m = request.add_messages();
    m->set_role("human");
    m->set_text("hi");
    auto reader = stub->Chat(&context, request);
    v1::ChatResponse response;
    while (reader->Read(&response)) {
    }
    return reader->Finish();
  }

  TestServer server_;
};

TEST_F(AuthServer, MissingOrWrongTokenIsUnauthenticated) {
  EXPECT_EQ(CallChat(nullptr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CallChat("Bearer gamma").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CallChat("Basic YWxwaGE=").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CallModelInfo(nullptr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto stub = server_.Stub();
  grpc::ClientContext context;
  v1::DescribeRequest request;
  request.set_image("x");
  v1::DescribeResponse response;
  EXPECT_EQ(stub->Describe(&context, request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Nothing reached the backend, and the metrics saw the code.
  EXPECT_EQ(server_.backend().n_calls(), 0u);
  ASSERT_TRUE(server_.metrics().WaitFor(5));
  for (const auto& entry : server_.metrics().entries()) {
    EXPECT_EQ(entry.record.code, absl::StatusCode::kUnauthenticated) << entry.rpc;
  }
}

TEST_F(AuthServer, RightTokenIsServed) {
  EXPECT_TRUE(CallChat("Bearer alpha").ok());
  EXPECT_TRUE(CallChat("Bearer beta").ok());
  EXPECT_TRUE(CallModelInfo("Bearer beta").ok());
  EXPECT_EQ(server_.backend().n_calls(), 2u);
}

TEST_F(AuthServer, HealthAndReflectionNeedNoToken) {
  auto channel = server_.Channel();
  grpc::Status error;
  EXPECT_EQ(testing::HealthCheck(channel.get(), "", &error), 1) << error.error_message();
  EXPECT_EQ(testing::HealthCheck(channel.get(), "lmeye.v1.Lmeye", &error), 1)
      << error.error_message();
  std::string services;
  grpc::Status status = testing::ReflectionListServices(channel.get(), &services);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(services, HasSubstr("lmeye.v1.Lmeye"));
}

}  // namespace
}  // namespace lmeye
