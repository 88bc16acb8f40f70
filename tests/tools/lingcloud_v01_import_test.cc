// lmeye import lingcloud, layout v0.1: the BLIP-2 Flan-T5 release from the fixture's own files (the
// legacy-format .pth with "module." names, the Blip2 directory with <img-d>/<img-q> added, the CLIP
// model) becomes a model directory that `lmeye verify` holds to every golden of the fixture
// (greedy and beam-5 ids exact, every stage within tolerance); mixed-up flags and mismatched
// backbones are errors that name what is wrong.
#include <string>

#include <gtest/gtest.h>

#include "model/ipn/adapter_config.h"
#include "model/tools/lingcloud_import.h"
#include "model/verify/verifier.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

constexpr char kFixture[] = "models/lingcloud-blip2-tiny";

LingcloudImportOptions FixtureImport(const std::string& out) {
  const std::string dir = testing::TestData(kFixture);
  LingcloudImportOptions o;
  o.checkpoint = dir + "/lmeye_checkpoint.pth";
  o.blip2_dir = dir + "/blip2";
  o.clip_dir = dir + "/clip";
  o.out_dir = out;
  return o;
}

bool Mentions(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

TEST(LingcloudV01ImportTest, ImportedFixtureVerifiesAgainstEveryGolden) {
  testing::ScratchDir scratch("lingcloud_v01_import");
  const std::string out = scratch.Path("model");
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(FixtureImport(out));
  ASSERT_TRUE(report.ok()) << report.status();
  std::string printed;
  for (const std::string& line : report->lines) printed += line + "\n";
  EXPECT_NE(printed.find("layout: LMEye v0.1"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"module.\" prefix: removed"), std::string::npos) << printed;
  EXPECT_NE(printed.find("instruction_linear.weight float32 [32, 32]"), std::string::npos)
      << printed;

  absl::StatusOr<IpnAdapterConfig> config = ReadIpnAdapterConfig(out + "/adapter.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->layout, AdapterLayout::kLingcloudV01);
  EXPECT_EQ(config->lingcloud_v0_1.imgd_token_id, 356);
  EXPECT_EQ(config->lingcloud_v0_1.imgq_token_id, 357);
  EXPECT_EQ(config->lingcloud_v0_1.imgd_len, 5);
  EXPECT_EQ(config->lingcloud_v0_1.clip_rows, "last");
  EXPECT_EQ(config->vision, "blip2");
  EXPECT_EQ(config->llm, "blip2");
  EXPECT_EQ(config->text, "clip");

  VerifyOptions verify;
  verify.goldens_dir = testing::TestData(kFixture);
  absl::StatusOr<VerifyReport> checked = VerifyModelDir(out, verify);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->recomputer, "lingcloud-v0.1");
  EXPECT_TRUE(checked->passed()) << FormatReport(*checked);
  // Everything that is not an input is recomputed.
  int ids = 0;
  for (const VerifyLine& line : checked->lines) {
    if (line.exact && line.status == "ok") ++ids;
    const bool input = line.name.find("input_ids") != std::string::npos ||
                       line.name.find("pixel_values") != std::string::npos ||
                       line.name.find("attention_mask") != std::string::npos;
    EXPECT_TRUE(line.status != "skipped" || input) << line.name;
  }
  EXPECT_GE(ids, 3 * 3) << FormatReport(*checked);  // greedy, beam 5, alt greedy per sample
}

TEST(LingcloudV01ImportTest, TheOtherLayoutsBackboneFlagIsRefused) {
  testing::ScratchDir scratch("lingcloud_v01_import");
  LingcloudImportOptions o = FixtureImport(scratch.Path("model"));
  o.llm_dir = o.blip2_dir;
  o.blip2_dir.clear();
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(Mentions(report.status(), "v0.1 checkpoint: give --blip2")) << report.status();
}

TEST(LingcloudV01ImportTest, AMismatchedClipNamesBothSides) {
  testing::ScratchDir scratch("lingcloud_v01_import");
  LingcloudImportOptions o = FixtureImport(scratch.Path("model"));
  o.clip_dir = testing::TestData("models/lingcloud-v0-tiny-llama/clip");
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(report.status(), "the CLIP width")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), o.clip_dir)) << report.status();
}

}  // namespace
}  // namespace lmeye
