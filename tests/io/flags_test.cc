// The flag mechanism every command uses (model/common/flags.h): both syntaxes, values that are
// missing or look like flags, unknown flags, bad numbers, repeats, required flags and the help
// text made from the table.
#include "model/common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace lmeye {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A command's options and its table, as a mode declares them.
struct Options {
  std::string model;
  int steps = 32;
  int64_t bytes = 0;
  uint32_t top_k = 0;
  std::optional<uint64_t> seed;
  double tolerance = 1e-5;
  std::optional<float> temperature;
  bool json = false;
  std::vector<std::string> stop;
  std::string rpc = "chat";
};

class FlagsTest : public ::testing::Test {
 protected:
  std::vector<Flag> Table() {
    return {
        StringFlag("model", &o_.model, "DIR", "model directory").Required(),
        IntFlag("decode-steps", &o_.steps, "N", "steps", kPositive),
        IntFlag("max-bytes", &o_.bytes, "B", "bytes", kNonNegative),
        IntFlag("top-k", &o_.top_k, "K", "keep K"),
        IntFlag("seed", &o_.seed, "S", "sampling seed"),
        DoubleFlag("tolerance", &o_.tolerance, "T", "relative bound", kNonNegative),
        DoubleFlag("temperature", &o_.temperature, "T", "0: greedy"),
        BoolFlag("json", &o_.json, "print JSON"),
        StringsFlag("stop", &o_.stop, "TEXT", "stop string (repeatable)"),
        CustomFlag("rpc", FlagKind::kString, "chat|describe", "what to call",
                   [this](const std::string& v) {
                     if (v != "chat" && v != "describe") {
                       return FlagValueError("rpc", v, "chat or describe");
                     }
                     o_.rpc = v;
                     return absl::OkStatus();
                   }),
    };
  }

  // The error of parsing `args` (after a valid --model), or "" when it parses.
  std::string Error(std::vector<std::string> args) {
    args.insert(args.begin(), {"--model", "m"});
    absl::StatusOr<ParsedFlags> parsed = ParseFlags(Table(), args);
    return parsed.ok() ? "" : std::string(parsed.status().message());
  }

  Options o_;
};

TEST_F(FlagsTest, BothSyntaxesFillTheOptions) {
  auto parsed = ParseFlags(Table(), {"--model", "dir", "--decode-steps=8", "--max-bytes", "0",
                                     "--top-k=40", "--seed", "18446744073709551615", "--tolerance",
                                     "1e-3", "--temperature=-0.5", "--json", "--rpc=describe"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->help);
  EXPECT_EQ(o_.model, "dir");
  EXPECT_EQ(o_.steps, 8);
  EXPECT_EQ(o_.bytes, 0);
  EXPECT_EQ(o_.top_k, 40u);
  EXPECT_EQ(o_.seed, 18446744073709551615u);
  EXPECT_DOUBLE_EQ(o_.tolerance, 1e-3);
  EXPECT_FLOAT_EQ(*o_.temperature, -0.5f);  // a negative number is a value, not a flag
  EXPECT_TRUE(o_.json);
  EXPECT_EQ(o_.rpc, "describe");
}

TEST_F(FlagsTest, UntouchedFieldsKeepTheirDefaults) {
  ASSERT_TRUE(ParseFlags(Table(), {"--model=m"}).ok());
  EXPECT_EQ(o_.steps, 32);
  EXPECT_FALSE(o_.seed.has_value());
  EXPECT_FALSE(o_.temperature.has_value());
  EXPECT_FALSE(o_.json);
}

TEST_F(FlagsTest, DashesAndUnderscoresAreOneCharacter) {
  ASSERT_TRUE(ParseFlags(Table(), {"--model", "m", "--decode_steps", "3"}).ok());
  EXPECT_EQ(o_.steps, 3);
}

TEST_F(FlagsTest, MissingValueNamesTheFlag) {
  EXPECT_EQ(Error({"--decode-steps"}), "--decode-steps needs a value");
  // The next argument is a flag: the value was forgotten, it is not "--json".
  EXPECT_EQ(Error({"--decode-steps", "--json"}), "--decode-steps needs a value");
  EXPECT_FALSE(o_.json);
  // A value that starts with "--" can still be given with '='; an empty one too.
  EXPECT_EQ(Error({"--stop=--", "--stop", ""}), "");
  EXPECT_THAT(o_.stop, ElementsAre("--", ""));
}

TEST_F(FlagsTest, UnknownFlagsAndStrayArgumentsAreNamed) {
  EXPECT_EQ(Error({"--modle", "x"}), "unknown flag --modle");
  EXPECT_EQ(Error({"--modle=x"}), "unknown flag --modle");
  EXPECT_EQ(Error({"stray"}), "unexpected argument \"stray\"");
  EXPECT_EQ(Error({"-j"}), "unexpected argument \"-j\"");
}

TEST_F(FlagsTest, BadNumbersNameTheFlagAndTheValue) {
  EXPECT_EQ(Error({"--decode-steps", "x"}),
            "--decode-steps: expected a positive integer, got \"x\"");
  EXPECT_EQ(Error({"--decode-steps", "0"}),
            "--decode-steps: expected a positive integer, got \"0\"");
  EXPECT_EQ(Error({"--decode-steps=3000000000"}),
            "--decode-steps: expected a positive integer, got \"3000000000\"");  // over int
  EXPECT_EQ(Error({"--max-bytes", "-1"}),
            "--max-bytes: expected a non-negative integer, got \"-1\"");
  // Unsigned fields refuse negative values.
  EXPECT_EQ(Error({"--top-k", "-1"}), "--top-k: expected a non-negative integer, got \"-1\"");
  EXPECT_EQ(Error({"--seed", "-1"}), "--seed: expected a non-negative integer, got \"-1\"");
  EXPECT_EQ(Error({"--tolerance", "-1"}),
            "--tolerance: expected a non-negative number, got \"-1\"");
  EXPECT_EQ(Error({"--temperature", "nan"}), "--temperature: expected a number, got \"nan\"");
  EXPECT_EQ(Error({"--rpc", "vqa"}), "--rpc: expected chat or describe, got \"vqa\"");
}

TEST_F(FlagsTest, SwitchesTakeNoValue) {
  EXPECT_EQ(Error({"--json=yes"}), "--json takes no value");
  // A switch's "value" is the next flag, never consumed.
  EXPECT_EQ(Error({"--json", "--decode-steps", "4"}), "");
  EXPECT_EQ(o_.steps, 4);
}

TEST_F(FlagsTest, SwitchThatTakesAValuePassesIt) {
  std::string got;
  Flag resume = CustomFlag("resume", FlagKind::kBool, "", "continue", [&](const std::string& v) {
    got = v;
    return absl::OkStatus();
  });
  resume.bool_takes_value = true;
  ASSERT_TRUE(ParseFlags({resume}, {"--resume"}).ok());
  EXPECT_EQ(got, "true");
  ASSERT_TRUE(ParseFlags({resume}, {"--resume=false"}).ok());
  EXPECT_EQ(got, "false");
}

TEST_F(FlagsTest, RepeatedFlags) {
  ASSERT_EQ(Error({"--stop", "a", "--decode-steps", "1", "--stop=b", "--decode-steps", "2"}), "");
  EXPECT_THAT(o_.stop, ElementsAre("a", "b"));  // a list keeps every value, in order
  EXPECT_EQ(o_.steps, 2);                       // a scalar keeps the last
}

TEST_F(FlagsTest, RequiredFlags) {
  auto parsed = ParseFlags(Table(), {"--json"});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "--model is required");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FlagsTest, HelpStopsParsing) {
  // --help wins over what follows it (even an error) and over a missing required flag.
  auto parsed = ParseFlags(Table(), {"--json", "-h", "--modle"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->help);
  EXPECT_TRUE(ParseFlags(Table(), {"--help"})->help);
  // An error before it is still an error.
  EXPECT_FALSE(ParseFlags(Table(), {"--modle", "--help"}).ok());
}

TEST_F(FlagsTest, HelpTextComesFromTheTable) {
  const std::string help = FlagHelp(Table());
  EXPECT_THAT(help, HasSubstr("  --model DIR               model directory (required)\n"));
  EXPECT_THAT(help, HasSubstr("  --decode-steps N          steps (default 32)\n"));
  EXPECT_THAT(help, HasSubstr("  --json                    print JSON\n"));
  EXPECT_THAT(help, HasSubstr("--tolerance T             relative bound (default 1e-05)\n"));
  EXPECT_THAT(help, HasSubstr("--rpc chat|describe       what to call\n"));
  EXPECT_THAT(help, HasSubstr("--seed S                  sampling seed\n"));  // unset: no default
  // One line per row, in table order.
  EXPECT_EQ(std::count(help.begin(), help.end(), '\n'), static_cast<long>(Table().size()));
  EXPECT_LT(help.find("--model"), help.find("--rpc"));
  // Long help wraps under itself.
  const std::string wrapped = FlagHelp(
      {BoolFlag("json", &o_.json,
                std::string(30, 'x') + " " + std::string(40, 'y') + " " + std::string(10, 'z'))});
  EXPECT_EQ(wrapped, "  --json                    " + std::string(30, 'x') + " " +
                         std::string(40, 'y') + "\n" + std::string(28, ' ') + std::string(10, 'z') +
                         "\n");
}

}  // namespace
}  // namespace lmeye
