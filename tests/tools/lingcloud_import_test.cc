// lmeye import lingcloud: the released v0 layout from the fixtures' own files (the legacy-format
// .pth, the resized LLM with its added tokens, the CLIP model) becomes a model directory that
// `lmeye verify` holds to every golden of the fixture (greedy and beam-5 ids exact); bad
// checkpoints and mismatched backbones are errors that name what is wrong.
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "model/common/file_util.h"
#include "model/ipn/adapter_config.h"
#include "model/tools/lingcloud_import.h"
#include "model/verify/verifier.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

LingcloudImportOptions FixtureImport(const std::string& fixture, const std::string& out) {
  const std::string dir = testing::TestData("models/" + fixture);
  LingcloudImportOptions o;
  o.checkpoint = dir + "/lingcloud_checkpoint.pth";
  o.llm_dir = dir + "/llm";
  o.clip_dir = dir + "/clip";
  o.out_dir = out;
  return o;
}

bool Mentions(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

struct Case {
  std::string fixture;
  int64_t img_id;
  bool strip;
  friend std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.fixture; }
};

class LingcloudImportTest : public ::testing::TestWithParam<Case> {};

TEST_P(LingcloudImportTest, ImportedFixtureVerifiesAgainstEveryGolden) {
  const Case& c = GetParam();
  testing::ScratchDir scratch("lingcloud_import");
  const std::string out = scratch.Path("model");
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(FixtureImport(c.fixture, out));
  ASSERT_TRUE(report.ok()) << report.status();
  std::string printed;
  for (const std::string& line : report->lines) printed += line + "\n";
  EXPECT_NE(printed.find("embedding_imgd float16 [1, "), std::string::npos) << printed;
  EXPECT_NE(printed.find("'optimizer'"), std::string::npos) << printed;

  absl::StatusOr<IpnAdapterConfig> config = ReadIpnAdapterConfig(out + "/adapter.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->layout, AdapterLayout::kLingcloudV0);
  EXPECT_EQ(config->lingcloud_v0.img_token_id, c.img_id);
  EXPECT_EQ(config->lingcloud_v0.imgd_token_id, c.img_id + 1);
  EXPECT_EQ(config->lingcloud_v0.prompt_len, 5);
  EXPECT_EQ(config->lingcloud_v0.query_len, 5);
  EXPECT_EQ(config->lingcloud_v0.strip_around_image_tokens, c.strip);
  EXPECT_EQ(config->lingcloud_v0.embedding_img_from, "embedding_imgd");

  VerifyOptions verify;
  verify.goldens_dir = testing::TestData("models/" + c.fixture);
  absl::StatusOr<VerifyReport> checked = VerifyModelDir(out, verify);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->recomputer, "lingcloud-v0");
  EXPECT_TRUE(checked->passed()) << FormatReport(*checked);
  // Everything that is not an input is recomputed, except the before-norm reading.
  int ids = 0;
  for (const VerifyLine& line : checked->lines) {
    if (line.exact && line.status == "ok") ++ids;
    const bool input = line.name.find("input_ids") != std::string::npos ||
                       line.name.find("pixel_values") != std::string::npos;
    if (line.status == "skipped" && !input) {
      EXPECT_NE(line.name.find("alt_prenorm"), std::string::npos) << line.name;
    }
  }
  EXPECT_GE(ids, 3 * 3) << FormatReport(*checked);  // greedy, beam 5, alt greedy per sample
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LingcloudImportTest,
                         ::testing::Values(Case{"lingcloud-v0-tiny-llama", 512, true},
                                           Case{"lingcloud-v0-tiny-bloom", 700, false}),
                         [](const auto& info) {
                           return std::string(info.param.strip ? "llama" : "bloom");
                         });

TEST(LingcloudImportErrorsTest, MismatchedBackboneWidthsNameBothSides) {
  testing::ScratchDir scratch("lingcloud_import");
  LingcloudImportOptions o = FixtureImport("lingcloud-v0-tiny-llama", scratch.Path("model"));
  o.llm_dir = testing::TestData("models/lingcloud-v0-tiny-bloom/llm");  // 64 wide, not 80
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(Mentions(report.status(), "80")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), "64")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), o.llm_dir)) << report.status();
  EXPECT_FALSE(std::filesystem::exists(o.out_dir)) << "nothing is written on an error";
}

TEST(LingcloudImportErrorsTest, ATruncatedCheckpointNamesTheFile) {
  testing::ScratchDir scratch("lingcloud_import");
  LingcloudImportOptions o = FixtureImport("lingcloud-v0-tiny-llama", scratch.Path("model"));
  absl::StatusOr<std::string> bytes = ReadFileToString(o.checkpoint);
  ASSERT_TRUE(bytes.ok());
  o.checkpoint = scratch.Write("truncated.pth", bytes->substr(0, bytes->size() / 2));
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(Mentions(report.status(), "truncated.pth")) << report.status();
}

TEST(LingcloudImportErrorsTest, ACheckpointWithoutTheIpnKeysListsWhatIsMissing) {
  testing::ScratchDir scratch("lingcloud_import");
  LingcloudImportOptions o = FixtureImport("lingcloud-v0-tiny-llama", scratch.Path("model"));
  o.checkpoint = testing::TestData("checkpoints/zip_state_dict.pt");
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(Mentions(report.status(), "missing")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), "embedding_imgd")) << report.status();
}

TEST(LingcloudImportErrorsTest, AZipWithACorruptMemberIsAnError) {
  testing::ScratchDir scratch("lingcloud_import");
  LingcloudImportOptions o = FixtureImport("lingcloud-v0-tiny-llama", scratch.Path("model"));
  o.checkpoint = testing::TestData("checkpoints/bad_local_header.pt");
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(Mentions(report.status(), "bad_local_header.pt")) << report.status();
}

TEST(LingcloudImportErrorsTest, AnOccupiedOutputDirectoryIsRefused) {
  testing::ScratchDir scratch("lingcloud_import");
  scratch.Write("notes.txt", "mine");
  LingcloudImportOptions o = FixtureImport("lingcloud-v0-tiny-llama", scratch.path());
  absl::StatusOr<LingcloudImportReport> report = ImportLingcloud(o);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kAlreadyExists) << report.status();
}

}  // namespace
}  // namespace lmeye
