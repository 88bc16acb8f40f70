// lmeye_client's command line: every usage error is found before any network I/O, and the
// values land in the typed options.
#include "client/client_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/messages.h"

namespace lmeye::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ErrorOf(const std::vector<std::string>& args) {
  auto options = ParseClientArgs(args);
  return options.ok() ? "" : std::string(options.status().message());
}

TEST(ClientOptionsTest, DefaultsAndCommonFlags) {
  auto o = ParseClientArgs({"info"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->command, "info");
  EXPECT_EQ(o->connection.server, "localhost:50051");
  EXPECT_FALSE(o->connection.tls);
  EXPECT_EQ(o->connection.timeout_seconds, 0);

  o = ParseClientArgs(
      {"info", "--server", "10.0.0.1:7000", "--token=abc", "--timeout", "2.5", "--json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connection.server, "10.0.0.1:7000");
  EXPECT_EQ(o->connection.token, "abc");
  EXPECT_DOUBLE_EQ(o->connection.timeout_seconds, 2.5);
  EXPECT_TRUE(o->json);
}

TEST(ClientOptionsTest, CertificatesImplyTls) {
  auto o = ParseClientArgs({"info", "--ca", "ca.pem"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->connection.tls);
  o = ParseClientArgs({"info", "--tls", "--cert", "c.pem", "--key", "k.pem"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connection.cert_file, "c.pem");
  EXPECT_THAT(ErrorOf({"info", "--cert", "c.pem"}), HasSubstr("--cert and --key"));
  EXPECT_THAT(ErrorOf({"info", "--token", "a", "--token-file", "f"}),
              HasSubstr("--token and --token-file"));
}

TEST(ClientOptionsTest, GenerationFlagsFillOnlyWhatIsGiven) {
  auto o = ParseClientArgs({"chat", "--image", "cat.jpg", "--max-new-tokens", "32", "--temperature",
                            "0.7", "--top-p=0.9", "--top-k", "40", "--seed", "7", "--stop", "\n",
                            "--stop", "Human:", "--no-interaction", "--message", "hi"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->image, "cat.jpg");
  EXPECT_EQ(o->message, "hi");
  lmeye::v1::GenerationParams params;
  FillGenerationParams(o->generation, &params);
  EXPECT_EQ(params.max_new_tokens(), 32u);
  EXPECT_FLOAT_EQ(params.temperature(), 0.7f);
  EXPECT_FLOAT_EQ(params.top_p(), 0.9f);
  EXPECT_EQ(params.top_k(), 40u);
  EXPECT_EQ(params.seed(), 7u);
  EXPECT_THAT(params.stop(), ElementsAre("\n", "Human:"));
  EXPECT_TRUE(params.has_interaction());
  EXPECT_FALSE(params.interaction());
  EXPECT_FALSE(params.has_num_beams());  // unset: the server's default
  EXPECT_FALSE(params.has_repetition_penalty());
  EXPECT_FALSE(params.ignore_eos());
}

TEST(ClientOptionsTest, CommandSpecificFlags) {
  auto vqa = ParseClientArgs(
      {"vqa", "--image", "a.png", "--question", "What color?", "--choices", "red,green,blue"});
  ASSERT_TRUE(vqa.ok()) << vqa.status();
  EXPECT_THAT(vqa->choices, ElementsAre("red", "green", "blue"));
  auto with_comma = ParseClientArgs(
      {"vqa", "--image", "a.png", "--question", "Q", "--choice", "a, b", "--choice", "c"});
  ASSERT_TRUE(with_comma.ok());
  EXPECT_THAT(with_comma->choices, ElementsAre("a, b", "c"));
  auto describe = ParseClientArgs({"describe", "--image", "a.png", "--stream"});
  ASSERT_TRUE(describe.ok());
  EXPECT_TRUE(describe->stream);

  auto load = ParseClientArgs({"load", "--concurrency", "8", "--images", "dir", "--images", "x.jpg",
                               "--questions", "q.txt", "--rpc", "describe"});
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->concurrency, 8);
  EXPECT_EQ(load->requests, 100);  // the default when neither --requests nor --duration
  EXPECT_THAT(load->images, ElementsAre("dir", "x.jpg"));
  EXPECT_EQ(load->rpc, "describe");
  EXPECT_EQ(load->warmup, 0);
  auto timed = ParseClientArgs({"load", "--duration", "30", "--warmup", "4"});
  ASSERT_TRUE(timed.ok());
  EXPECT_FALSE(timed->requests.has_value());
  EXPECT_DOUBLE_EQ(*timed->duration_seconds, 30);
  EXPECT_EQ(timed->warmup, 4);
}

TEST(ClientOptionsTest, UsageErrorsNameTheFlag) {
  EXPECT_THAT(ErrorOf({}), HasSubstr("missing command"));
  EXPECT_THAT(ErrorOf({"chatt"}), HasSubstr("unknown command \"chatt\""));
  EXPECT_THAT(ErrorOf({"chat", "--imgae", "x"}), HasSubstr("unknown flag --imgae"));
  EXPECT_THAT(ErrorOf({"info", "--image", "x"}), HasSubstr("--image: not a flag of info"));
  EXPECT_THAT(ErrorOf({"chat", "--choices", "a,b"}), HasSubstr("not a flag of chat"));
  EXPECT_THAT(ErrorOf({"chat", "--max-new-tokens"}), HasSubstr("--max-new-tokens needs a value"));
  EXPECT_THAT(ErrorOf({"chat", "--max-new-tokens", "--json"}),
              HasSubstr("--max-new-tokens needs a value"));
  EXPECT_THAT(ErrorOf({"chat", "--max-new-tokens", "0"}),
              HasSubstr("--max-new-tokens: expected a positive integer, got \"0\""));
  EXPECT_THAT(ErrorOf({"chat", "--temperature", "hot"}), HasSubstr("--temperature: expected"));
  EXPECT_THAT(ErrorOf({"chat", "--top-k", "-1"}), HasSubstr("--top-k"));
  EXPECT_THAT(ErrorOf({"info", "--timeout", "-1"}), HasSubstr("--timeout"));
  EXPECT_THAT(ErrorOf({"describe", "--stream=yes", "--image", "a"}), HasSubstr("takes no value"));
  EXPECT_THAT(ErrorOf({"describe"}), HasSubstr("--image is required"));
  EXPECT_THAT(ErrorOf({"vqa", "--image", "a"}), HasSubstr("--question is required"));
  EXPECT_THAT(ErrorOf({"vqa", "--image", "a", "--question", "q", "--long", "--choices", "x"}),
              HasSubstr("--long and --choices"));
  EXPECT_THAT(ErrorOf({"load", "--requests", "5", "--duration", "1"}),
              HasSubstr("--requests and --duration"));
  EXPECT_THAT(ErrorOf({"load", "--concurrency", "0"}), HasSubstr("--concurrency"));
  EXPECT_THAT(ErrorOf({"load", "--rpc", "vqa"}), HasSubstr("--rpc: expected chat or describe"));
  EXPECT_THAT(ErrorOf({"chat", "stray"}), HasSubstr("unexpected argument"));
}

TEST(ClientOptionsTest, HelpAnywhere) {
  EXPECT_TRUE(ParseClientArgs({"--help"})->help);
  EXPECT_TRUE(ParseClientArgs({"vqa", "--help"})->help);
  const std::string usage = ClientUsage();
  EXPECT_THAT(usage, HasSubstr("--concurrency N"));
  EXPECT_THAT(usage, HasSubstr("exit codes:"));
}

}  // namespace
}  // namespace lmeye::client
