// The golden rule (model/common/golden_tolerance.h) can fail, and `lmeye verify` applies it: a
// golden moved by twice its bound fails, by half its bound passes, in CompareToGolden and in a
// verify run over a fixture directory whose golden file was edited so.
#include "model/common/golden_tolerance.h"

#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "model/verify/verifier.h"
#include "tests/common/golden_expect.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

// The fixture whose logits (|logit| ~20) an absolute 1e-5 bound failed on one CPU.
constexpr char kFixture[] = "bloom-tiny";
constexpr char kLogits[] = "a_left.logits";

at::Tensor FixtureGolden(const std::string& name) {
  return testing::LoadGolden(testing::TestData(std::string("models/") + kFixture), name);
}

// Row 1 of a_left is left-padded: position [1][0] is padding, [1][9] and [0][3] are real.
at::Tensor RealPositions() {
  return FixtureGolden("a_left.attention_mask").to(at::kBool).unsqueeze(-1);
}

// `golden` with the element at `index` moved by `delta`.
at::Tensor Moved(const at::Tensor& golden, std::vector<int64_t> index, double delta) {
  at::Tensor moved = golden.clone();
  moved[index[0]][index[1]][index[2]] += delta;
  return moved;
}

TEST(GoldenToleranceTest, BoundIsRelativeToTheTensorsScale) {
  const at::Tensor golden = FixtureGolden(kLogits);
  const GoldenComparison self = CompareToGolden(golden, golden, RealPositions());
  EXPECT_TRUE(self.ok());
  EXPECT_EQ(self.max_abs_diff, 0.0);
  EXPECT_GT(self.scale, 5.0);  // logits, not unit-scale values
  EXPECT_DOUBLE_EQ(self.bound, kGoldenRelativeTolerance * self.scale);
  // Tensors below 1 in magnitude get the floor: the bound never shrinks under the relative.
  const GoldenComparison small = CompareToGolden(golden * 1e-3, golden * 1e-3);
  EXPECT_DOUBLE_EQ(small.scale, 1.0);
  EXPECT_DOUBLE_EQ(small.bound, kGoldenRelativeTolerance);
}

TEST(GoldenToleranceTest, TwiceTheBoundFailsHalfPasses) {
  const at::Tensor golden = FixtureGolden(kLogits);
  const at::Tensor mask = RealPositions();
  const double bound = CompareToGolden(golden, golden, mask).bound;
  for (const std::vector<int64_t>& at : {std::vector<int64_t>{0, 3, 17}, {1, 9, 500}}) {
    for (double sign : {1.0, -1.0}) {
      const GoldenComparison twice =
          CompareToGolden(Moved(golden, at, sign * 2 * bound), golden, mask);
      EXPECT_FALSE(twice.ok()) << twice.Describe();
      EXPECT_NEAR(twice.max_abs_diff, 2 * bound, 1e-3 * bound);
      const GoldenComparison half =
          CompareToGolden(Moved(golden, at, sign * 0.5 * bound), golden, mask);
      EXPECT_TRUE(half.ok()) << half.Describe();
      EXPECT_FALSE(testing::MatchesGolden(Moved(golden, at, sign * 2 * bound), golden, mask));
      EXPECT_TRUE(testing::MatchesGolden(Moved(golden, at, sign * 0.5 * bound), golden, mask));
    }
  }
}

TEST(GoldenToleranceTest, MaskedPositionsAreNotCompared) {
  const at::Tensor golden = FixtureGolden(kLogits);
  const at::Tensor mask = RealPositions();
  ASSERT_FALSE(mask[1][0][0].item<bool>());  // left padding
  EXPECT_TRUE(CompareToGolden(Moved(golden, {1, 0, 3}, 1e3), golden, mask).ok());
  EXPECT_FALSE(CompareToGolden(Moved(golden, {1, 0, 3}, 1e3), golden).ok());
}

TEST(GoldenToleranceTest, IdsAreExactAndNanNeverPasses) {
  const at::Tensor ids = FixtureGolden("a_left.input_ids");
  at::Tensor one_off = ids.clone();
  one_off[0][2] += 1;
  const GoldenComparison c = CompareToGolden(one_off, ids);
  EXPECT_TRUE(c.exact);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.n_mismatched, 1);
  EXPECT_TRUE(CompareToGolden(ids.clone(), ids).ok());

  const at::Tensor golden = FixtureGolden(kLogits);
  at::Tensor nan = golden.clone();
  nan[0][0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(CompareToGolden(nan, golden).ok());
  EXPECT_FALSE(CompareToGolden(golden.narrow(1, 0, 4), golden).ok());  // shape
}

// `lmeye verify` over a copy of the fixture whose logits golden was moved at one real position.
class VerifyAppliesTheRuleTest : public ::testing::Test {
 protected:
  VerifyReport VerifyWithMovedGolden(double bounds) {
    namespace fs = std::filesystem;
    const std::string src = testing::TestData(std::string("models/") + kFixture);
    for (const auto& entry : fs::directory_iterator(src)) {
      fs::copy_file(entry.path(), scratch_.Path(entry.path().filename().string()),
                    fs::copy_options::overwrite_existing);
    }
    auto file = SafetensorsFile::Open(src + "/golden.safetensors");
    EXPECT_TRUE(file.ok()) << file.status();
    const at::Tensor golden = FixtureGolden(kLogits);
    const double bound = CompareToGolden(golden, golden, RealPositions()).bound;
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& e : (*file)->entries()) {
      at::Tensor t = *(*file)->Load(e.name);
      if (e.name == kLogits) t = Moved(t, {0, 3, 17}, bounds * bound);
      tensors.emplace_back(e.name, t);
    }
    EXPECT_TRUE(WriteSafetensors(scratch_.Path("golden.safetensors"), tensors).ok());
    auto report = VerifyModelDir(scratch_.path(), VerifyOptions{});
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : VerifyReport{};
  }

  static const VerifyLine* Line(const VerifyReport& report, const std::string& name) {
    for (const VerifyLine& line : report.lines) {
      if (line.name == name) return &line;
    }
    return nullptr;
  }

  testing::ScratchDir scratch_{"golden_tolerance"};
};

TEST_F(VerifyAppliesTheRuleTest, TwiceTheBoundFails) {
  const VerifyReport report = VerifyWithMovedGolden(2.0);
  std::printf("%s", FormatReport(report).c_str());
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.n_failed, 1);
  const VerifyLine* line = Line(report, kLogits);
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->status, "FAIL");
  EXPECT_THAT(line->note, HasSubstr("over the bound"));
  EXPECT_GT(line->max_abs_diff, line->bound);
}

TEST_F(VerifyAppliesTheRuleTest, HalfTheBoundPasses) {
  const VerifyReport report = VerifyWithMovedGolden(0.5);
  std::printf("%s", FormatReport(report).c_str());
  EXPECT_TRUE(report.passed());
  const VerifyLine* line = Line(report, kLogits);
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->status, "ok");
  EXPECT_GT(line->max_abs_diff, 0.4 * line->bound);  // the moved element is what it measured
}

}  // namespace
}  // namespace lmeye
