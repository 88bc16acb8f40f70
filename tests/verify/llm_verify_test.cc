// `lmeye verify` on the causal LM fixtures: every non-input golden is recomputed and within the
// golden rule (model/common/golden_tolerance.h; float32), every id exact.
#include <cstdio>

#include <gtest/gtest.h>

#include "model/verify/golden.h"
#include "model/verify/verifier.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

class LlmVerifyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LlmVerifyTest, EveryGoldenMatches) {
  auto report = VerifyModelDir(testing::TestData("models/" + GetParam()), VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  std::printf("%s", FormatReport(*report).c_str());
  EXPECT_EQ(report->recomputer, "llm");
  EXPECT_TRUE(report->passed());
  auto golden = GoldenSet::Open(testing::TestData("models/" + GetParam()));
  ASSERT_TRUE(golden.ok());
  // Inputs: "INPUT." descriptions, and "INPUT for ..." (a_left.position_ids).
  auto is_input = [&](const std::string& name) {
    const auto& desc = golden.value()->spec()["tensors"][name]["description"];
    return desc.is_string() && desc.get<std::string>().rfind("INPUT", 0) == 0;
  };
  int n_skipped_outputs = 0;
  for (const VerifyLine& line : report->lines) {
    EXPECT_NE(line.status, "FAIL") << line.name << " " << line.note;
    if (line.status == "skipped") {
      // The report says why a golden was skipped.
      EXPECT_EQ(line.note, golden.value()->IsInput(line.name) ? "input" : "not recomputed")
          << line.name;
      EXPECT_FALSE(line.exact) << line.name;
    }
    if (line.status == "skipped" && !is_input(line.name)) {
      ADD_FAILURE() << line.name << " was not recomputed";
      ++n_skipped_outputs;
    }
  }
  EXPECT_EQ(n_skipped_outputs, 0) << "some golden outputs were not recomputed";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmVerifyTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
