// lmeye_client's commands end to end against the real LmeyeService on loopback, with the fake
// backend of the gRPC edge tests playing the workers: what is printed, what is sent, and the exit
// code of each failure class.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client_options.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "tests/common/scratch_dir.h"
#include "tests/server/server_test_util.h"

namespace lmeye::client {
namespace {

using ::lmeye::testing::FakeBackend;
using ::lmeye::testing::TestServer;
using ::lmeye::testing::TestServerConfig;
using ::testing::HasSubstr;

class ClientCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { image_ = scratch_.Write("image.png", "not decoded by the fake backend"); }

  // Parses `args` (the command first) with --server pointing at `server`.
  ClientOptions Options(const TestServer& server, std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back(server.address());
    auto options = ParseClientArgs(args);
    EXPECT_TRUE(options.ok()) << options.status();
    return *options;
  }

  ::lmeye::testing::ScratchDir scratch_{"lmeye_client"};
  std::string image_;
};

TEST_F(ClientCommandsTest, InfoPrintsTheModel) {
  TestServer server;
  std::ostringstream out;
  EXPECT_EQ(RunInfo(Options(server, {"info"}), out), kExitOk);
  EXPECT_THAT(out.str(), HasSubstr("model_dir: /models/test"));
  EXPECT_THAT(out.str(), HasSubstr("workers: 2"));
  std::ostringstream json;
  EXPECT_EQ(RunInfo(Options(server, {"info", "--json"}), json), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(json.str())["model_dir"], "/models/test");
}

TEST_F(ClientCommandsTest, OneShotChatStreamsTheAnswer) {
  TestServer server;
  std::istringstream in;
  std::ostringstream out;
  const ClientOptions options = Options(
      server, {"chat", "--image", image_, "--message", "Hi there", "--max-new-tokens", "7"});
  EXPECT_EQ(RunChat(options, in, out), kExitOk);
  EXPECT_EQ(out.str(), "Hello, world!\n");
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->request.rpc, "Chat");
  EXPECT_EQ(call->request.image, "not decoded by the fake backend");
  EXPECT_EQ(call->request.sampling.max_new_tokens, 7);
}

TEST_F(ClientCommandsTest, InteractiveChatKeepsTheHistory) {
  TestServer server;
  std::istringstream in("First question\n\nSecond question\n/reset\nThird\n");
  std::ostringstream out;
  EXPECT_EQ(RunChat(Options(server, {"chat"}), in, out), kExitOk);
  EXPECT_EQ(out.str(), "Hello, world!\nHello, world!\nHello, world!\n");
  ASSERT_EQ(server.backend().n_calls(), 3u);
  const auto calls = server.backend().calls();
  // The second prompt holds the first turn and its answer; /reset drops them again.
  const auto prompt_tokens = [](const InferenceCall& call) {
    return call.request.prompt.n_positions();
  };
  EXPECT_GT(prompt_tokens(*calls[1]), prompt_tokens(*calls[0]) + 3);
  EXPECT_LT(prompt_tokens(*calls[2]), prompt_tokens(*calls[1]));
}

TEST_F(ClientCommandsTest, DescribeAndVqa) {
  TestServer server;
  std::ostringstream describe;
  EXPECT_EQ(RunDescribe(Options(server, {"describe", "--image", image_}), describe), kExitOk);
  EXPECT_EQ(describe.str(), "Hello, world!\n");
  std::ostringstream streamed;
  EXPECT_EQ(
      RunDescribe(Options(server, {"describe", "--image", image_, "--stream", "--json"}), streamed),
      kExitOk);
  // One JSON line per delta, the final message last.
  EXPECT_THAT(streamed.str(), HasSubstr("{\"delta\":\"Hello\"}\n"));
  EXPECT_THAT(streamed.str(), HasSubstr("\"finish_reason\":\"FINISH_REASON_EOS\""));
  std::ostringstream vqa;
  EXPECT_EQ(RunVqa(Options(server, {"vqa", "--image", image_, "--question", "What?"}), vqa),
            kExitOk);
  EXPECT_EQ(vqa.str(), "Hello, world!\n");
}

TEST_F(ClientCommandsTest, FailureClassesHaveTheirExitCodes) {
  TestServer server;
  std::ostringstream out;
  // Refused by the edge's validation: INVALID_ARGUMENT.
  EXPECT_EQ(RunVqa(Options(server, {"vqa", "--image", image_, "--question", "q", "--max-new-tokens",
                                    "100000"}),
                   out),
            kExitInvalidArgument);
  // Refused by the worker: a full queue.
  FakeBackend::Script script;
  script.submit_status = absl::ResourceExhaustedError("queue full");
  server.backend().set_script(script);
  EXPECT_EQ(RunDescribe(Options(server, {"describe", "--image", image_}), out),
            kExitResourceExhausted);
  // A worker that does not answer in time.
  script = FakeBackend::Script();
  script.hold = true;
  server.backend().set_script(script);
  EXPECT_EQ(RunDescribe(Options(server, {"describe", "--image", image_, "--timeout", "0.3"}), out),
            kExitDeadlineExceeded);
  server.backend().ReleaseAll();
  // A local file that is not there.
  EXPECT_EQ(RunDescribe(Options(server, {"describe", "--image", image_ + ".missing"}), out),
            kExitLocalInput);
}

TEST_F(ClientCommandsTest, TokensAndUnreachableServers) {
  TestServerConfig config;
  config.tokens = "secret\n";
  TestServer server(config);
  std::ostringstream out;
  EXPECT_EQ(RunInfo(Options(server, {"info"}), out), kExitUnauthenticated);
  EXPECT_EQ(RunInfo(Options(server, {"info", "--token", "wrong"}), out), kExitUnauthenticated);
  EXPECT_EQ(RunInfo(Options(server, {"info", "--token", "secret"}), out), kExitOk);

  auto unreachable = ParseClientArgs({"info", "--server", "127.0.0.1:1", "--timeout", "5"});
  ASSERT_TRUE(unreachable.ok());
  EXPECT_EQ(RunInfo(*unreachable, out), kExitUnavailable);
}

TEST_F(ClientCommandsTest, LoadReportsEveryRequest) {
  TestServer server;
  std::ostringstream out;
  EXPECT_EQ(RunLoad(Options(server, {"load", "--concurrency", "3", "--requests", "9", "--images",
                                     image_, "--json", "--warmup", "2"}),
                    out),
            kExitOk);
  const nlohmann::json report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report["requests_ok"], 9);
  EXPECT_EQ(report["requests_failed"], 0);
  EXPECT_EQ(report["generated_tokens"], 9 * 4);  // the fake's usage: 4 generated tokens each
  EXPECT_EQ(report["time_to_first_token_seconds"]["count"], 9);
  EXPECT_GT(report["requests_per_second"].get<double>(), 0);
  EXPECT_EQ(server.backend().n_calls(), 2u + 9u);  // the warmup is sent, not reported

  // Failures are counted by code and give the exit code of the first.
  FakeBackend::Script script;
  script.done_status = absl::InternalError("boom");
  server.backend().set_script(script);
  std::ostringstream failing;
  EXPECT_EQ(RunLoad(Options(server, {"load", "--requests", "2", "--json"}), failing), kExitOther);
  EXPECT_EQ(nlohmann::json::parse(failing.str())["failures_by_code"]["INTERNAL"], 2);
}

}  // namespace
}  // namespace lmeye::client
