// The exit-code contract scripts rely on: one distinct code per failure class.
#include "client/exit_codes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace lmeye::client {
namespace {

TEST(ExitCodesTest, EachFailureClassHasItsCode) {
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::UNAVAILABLE), 3);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::INVALID_ARGUMENT), 4);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::FAILED_PRECONDITION), 4);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::OUT_OF_RANGE), 4);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::UNAUTHENTICATED), 5);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::PERMISSION_DENIED), 5);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::DEADLINE_EXCEEDED), 6);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::RESOURCE_EXHAUSTED), 7);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::INTERNAL), 1);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::CANCELLED), 1);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::UNKNOWN), 1);
  // Usage (2) and local input (8) are never a gRPC code's.
  for (int c = 0; c <= 16; ++c) {
    const int code = ExitCodeForStatus(static_cast<grpc::StatusCode>(c));
    EXPECT_NE(code, kExitUsage);
    EXPECT_NE(code, kExitLocalInput);
  }
}

TEST(ExitCodesTest, LocalErrors) {
  EXPECT_EQ(ReportLocalError(absl::NotFoundError("--image: cannot read")), 8);
  EXPECT_EQ(ReportLocalError(absl::InvalidArgumentError("bad flag")), 2);
  EXPECT_EQ(ReportLocalError(absl::InternalError("?")), 1);
}

TEST(ExitCodesTest, CanonicalNames) {
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  std::set<std::string> names;
  for (int c = 0; c <= 16; ++c) names.insert(StatusCodeName(static_cast<grpc::StatusCode>(c)));
  EXPECT_EQ(names.size(), 17u);
}

TEST(ExitCodesTest, ReportPrintsCodeNameAndMessage) {
  ::testing::internal::CaptureStderr();
  const int code = ReportRpcError(
      "vqa", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "question: must not be empty"));
  EXPECT_EQ(code, 4);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "lmeye_client: vqa: INVALID_ARGUMENT: question: must not be empty\n");
}

}  // namespace
}  // namespace lmeye::client
