// Requests that are not the message they claim to be, or carry a string field that is not
// UTF-8, get INVALID_ARGUMENT naming the problem on every RPC (gRPC's own parse
// answered UNIMPLEMENTED with an empty message and protobuf logged an ERROR).
#include "server/edge/request_parser.h"

#include <gmock/gmock.h>
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/server/server_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::RawUnaryCall;
using ::lmeye::testing::TestServer;
using ::lmeye::testing::TestServerConfig;
using ::testing::HasSubstr;

// Wire format by hand: a proto3 string with invalid UTF-8 cannot be built through the API.
std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// A length-delimited field: a string, bytes or a nested message.
std::string Field(int number, const std::string& payload) {
  return Varint(static_cast<uint64_t>(number) << 3 | 2) + Varint(payload.size()) + payload;
}

const std::string kNotUtf8 = "ok \xff";  // byte 3
// Field 1 claims 5 bytes and has 2: not a message of any type.
const std::string kTruncated = std::string("\x0a\x05") + "ab";

TEST(ParseRequest, ReadsAValidRequest) {
  v1::AnswerVQARequest request;
  request.set_question("What colour is the square? é");
  request.add_choices("red");
  request.mutable_params()->add_stop("\n");
  v1::AnswerVQARequest parsed;
  ASSERT_TRUE(ParseRequest(request.SerializeAsString(), &parsed).ok());
  EXPECT_EQ(parsed.question(), request.question());
  EXPECT_EQ(parsed.choices(0), "red");
  EXPECT_EQ(parsed.params().stop(0), "\n");
}

TEST(ParseRequest, NamesTheStringFieldThatIsNotUtf8) {
  struct Case {
    std::string bytes;
    std::string message;
  } cases[] = {
      {Field(2, kNotUtf8), "question is not valid UTF-8 (byte 3)"},
      {Field(2, "q") + Field(4, "a") + Field(4, "b") + Field(4, kNotUtf8),
       "choices[2] is not valid UTF-8 (byte 3)"},
      {Field(5, Field(7, "x") + Field(7, "\xc3")), "params.stop[1] is not valid UTF-8 (byte 0)"},
  };
  for (const Case& c : cases) {
    v1::AnswerVQARequest parsed;
    const absl::Status status = ParseRequest(c.bytes, &parsed);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.message);
  }
  v1::ChatRequest chat;
  const absl::Status status = ParseRequest(Field(2, Field(1, "human") + Field(2, "hi")) +
                                               Field(2, Field(1, "assistant") + Field(2, kNotUtf8)),
                                           &chat);
  EXPECT_EQ(status.message(), "messages[1].text is not valid UTF-8 (byte 3)");
}

TEST(ParseRequest, RejectsBytesThatAreNotTheMessage) {
  for (const std::string& bytes :
       {kTruncated, std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
        std::string("\x00\x01", 2), Field(2, Field(1, "x") + "\x0a"), std::string("\x0c", 1)}) {
    v1::ChatRequest parsed;
    const absl::Status status = ParseRequest(bytes, &parsed);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("request is not a valid lmeye.v1.ChatRequest"));
  }
}

// gRPC hands large messages over in several slices; a field may span them.
grpc::ByteBuffer Sliced(const std::string& bytes, std::vector<size_t> cuts) {
  std::vector<grpc::Slice> slices;
  size_t from = 0;
  cuts.push_back(bytes.size());
  for (size_t cut : cuts) {
    slices.emplace_back(bytes.substr(from, cut - from));
    from = cut;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

TEST(ParseRequest, ReadsAByteBufferOfManySlices) {
  v1::AnswerVQARequest request;
  request.set_image(std::string(100000, 'x'));
  request.set_question("What colour is the square? é");
  const std::string bytes = request.SerializeAsString();
  v1::AnswerVQARequest parsed;
  ASSERT_TRUE(ParseRequest(Sliced(bytes, {1, 50000, bytes.size() - 3}), &parsed).ok());
  EXPECT_EQ(parsed.image(), request.image());
  EXPECT_EQ(parsed.question(), request.question());

  const std::string not_utf8 = Field(1, std::string(5000, 'x')) + Field(2, kNotUtf8);
  EXPECT_EQ(ParseRequest(Sliced(not_utf8, {10, not_utf8.size() - 2}), &parsed).message(),
            "question is not valid UTF-8 (byte 3)");
  const std::string truncated = Field(1, std::string(5000, 'x')).substr(0, 4000);
  EXPECT_THAT(std::string(ParseRequest(Sliced(truncated, {100, 2000}), &parsed).message()),
              HasSubstr("request is not a valid lmeye.v1.AnswerVQARequest: "));
  const std::string nested = Field(5, Field(7, "x") + Field(7, "\xc3"));
  EXPECT_EQ(ParseRequest(Sliced(nested, {3, 6}), &parsed).message(),
            "params.stop[1] is not valid UTF-8 (byte 0)");
  EXPECT_THAT(std::string(ParseRequest(grpc::ByteBuffer(), &parsed).message()),
              HasSubstr("request is not a valid lmeye.v1.AnswerVQARequest"));
}

TEST(ParseRequest, ProtobufLogsNothing) {
  static int n_logs = 0;
  google::protobuf::LogHandler* previous = google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) { ++n_logs; });
  v1::AnswerVQARequest parsed;
  EXPECT_FALSE(ParseRequest(Field(2, kNotUtf8), &parsed).ok());
  EXPECT_FALSE(ParseRequest(kTruncated, &parsed).ok());
  google::protobuf::SetLogHandler(previous);
  EXPECT_EQ(n_logs, 0);
}

// Over a loopback server: raw bytes through a generic stub, on each of the five RPCs.
struct RpcCase {
  std::string method;
  std::string not_utf8;  // a request with a string field that is not UTF-8 ("": none)
  std::string field;     // the field the error names
};

const RpcCase kRpcs[] = {
    {"/lmeye.v1.Lmeye/Chat", Field(2, Field(1, "human") + Field(2, kNotUtf8)), "messages[0].text"},
    {"/lmeye.v1.Lmeye/Describe", Field(2, Field(7, kNotUtf8)), "params.stop[0]"},
    {"/lmeye.v1.Lmeye/DescribeStream", Field(2, Field(7, kNotUtf8)), "params.stop[0]"},
    {"/lmeye.v1.Lmeye/AnswerVQA", Field(2, kNotUtf8), "question"},
    {"/lmeye.v1.Lmeye/GetModelInfo", "", ""},
};

TEST(RequestParsing, EveryRpcAnswersInvalidArgumentNamingTheProblem) {
  TestServer server;
  auto channel = server.Channel();
  for (const RpcCase& rpc : kRpcs) {
    SCOPED_TRACE(rpc.method);
    std::string response;
    grpc::Status status = RawUnaryCall(channel.get(), rpc.method, kTruncated, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("request is not a valid lmeye.v1."));
    if (rpc.not_utf8.empty()) continue;
    status = RawUnaryCall(channel.get(), rpc.method, rpc.not_utf8, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), rpc.field + " is not valid UTF-8 (byte 3)");
  }
  EXPECT_EQ(server.backend().n_calls(), 0u);
  // Counted like any other bad argument: 5 + 4 calls.
  ASSERT_TRUE(server.metrics().WaitFor(9));
  for (const auto& entry : server.metrics().entries()) {
    EXPECT_EQ(entry.record.code, absl::StatusCode::kInvalidArgument) << entry.rpc;
  }
}

TEST(RequestParsing, ValidRawRequestsStillWork) {
  TestServer server;
  std::string response;
  grpc::Status status =
      RawUnaryCall(server.Channel().get(), "/lmeye.v1.Lmeye/GetModelInfo", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::ModelInfo info;
  ASSERT_TRUE(info.ParseFromString(response));
  EXPECT_EQ(info.model_dir(), "/models/test");
}

TEST(RequestParsing, TheTokenIsCheckedFirst) {
  TestServerConfig config;
  config.tokens = "secret\n";
  TestServer server(config);
  std::string response;
  grpc::Status status =
      RawUnaryCall(server.Channel().get(), "/lmeye.v1.Lmeye/AnswerVQA", kTruncated, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace lmeye
