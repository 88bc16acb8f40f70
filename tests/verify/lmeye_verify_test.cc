// `lmeye verify` on LMEye model directories: every IPN intermediate, the two-pass inference with
// KV reuse, greedy ids with and without the interaction (IPN*), and the padded batch path match
// the Hugging Face goldens; damaged adapters fail loudly.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/ipn/lmeye_model.h"
#include "model/verify/golden.h"
#include "model/verify/verifier.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

class LmeyeVerifyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LmeyeVerifyTest, EveryGoldenMatches) {
  const std::string dir = testing::TestData("models/" + GetParam());
  auto report = VerifyModelDir(dir, VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  std::printf("%s", FormatReport(*report).c_str());
  EXPECT_EQ(report->recomputer, "lmeye");
  EXPECT_TRUE(report->passed());
  auto golden = GoldenSet::Open(dir);
  ASSERT_TRUE(golden.ok());
  int n_outputs = 0;
  for (const VerifyLine& line : report->lines) {
    if ((*golden)->IsInput(line.name)) {
      EXPECT_EQ(line.status, "skipped") << line.name;
    } else {
      ++n_outputs;
      EXPECT_EQ(line.status, "ok") << line.name << ": " << line.note;
    }
  }
  EXPECT_EQ(report->n_compared, n_outputs);
  EXPECT_GE(report->n_compared, 50);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LmeyeVerifyTest,
                         ::testing::Values("lmeye-tiny-opt", "lmeye-tiny-llama"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

class LmeyeDamagedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::copy(testing::TestData("models/lmeye-tiny-opt"), dir_,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
  }
  ::lmeye::testing::ScratchDir scratch_{"lmeye_damaged"};
  std::string dir_ = scratch_.path();
};

TEST_F(LmeyeDamagedTest, FlippedCombineFailsVerification) {
  // The goldens were made with combine = replace; "add" changes every second-pass value.
  std::ofstream(dir_ + "/adapter.json")
      << R"({"format":"lmeye-adapter","version":1,"num_fine":5,"combine":"add"})";
  auto report = VerifyModelDir(dir_, VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->passed());
  EXPECT_GT(report->n_failed, 0);
}

TEST_F(LmeyeDamagedTest, WrongNumFineIsALoadError) {
  std::ofstream(dir_ + "/adapter.json") << R"({"num_fine":4})";
  auto model = LmeyeModel::Load(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("ipn.decompose"));
}

TEST_F(LmeyeDamagedTest, MissingAdapterIsNotFound) {
  std::filesystem::remove(dir_ + "/adapter.safetensors");
  auto model = LmeyeModel::Load(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("adapter.safetensors"));
}

}  // namespace
}  // namespace lmeye
