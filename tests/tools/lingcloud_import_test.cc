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
#include "model/ipn/engine.h"
#include "model/ipn/lmeye_model.h"
#include "model/tools/lingcloud_import.h"
#include "model/verify/golden.h"
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
  // Everything that is not an input is recomputed, the before-norm reading included.
  int ids = 0, prenorm = 0;
  for (const VerifyLine& line : checked->lines) {
    if (line.exact && line.status == "ok") ++ids;
    if (line.name.find("alt_prenorm") != std::string::npos && line.status == "ok") ++prenorm;
    const bool input = line.name.find("input_ids") != std::string::npos ||
                       line.name.find("pixel_values") != std::string::npos;
    if (!input) EXPECT_NE(line.status, "skipped") << line.name;
  }
  EXPECT_GE(ids, 3 * 3) << FormatReport(*checked);  // greedy, beam 5, alt greedy per sample
  EXPECT_GE(prenorm, 2 * 3) << FormatReport(*checked);  // pre_query.hidden, logits_last
}

// adapter.json's first_pass_hidden: pre_norm makes the serving path (the engine's first pass on
// its KV cache, the interaction, the second pass) read the state before the final norm, which
// gives the alt_prenorm goldens; the default gives the primary ones.
TEST_P(LingcloudImportTest, TheEngineHonoursTheFirstPassHiddenOption) {
  const Case& c = GetParam();
  const std::string fixture = testing::TestData("models/" + c.fixture);
  absl::StatusOr<std::unique_ptr<GoldenSet>> golden = GoldenSet::Open(fixture);
  ASSERT_TRUE(golden.ok()) << golden.status();
  absl::StatusOr<at::Tensor> ids = (*golden)->Get("s0.input_ids");
  absl::StatusOr<at::Tensor> pixels = (*golden)->Get("s0.pixel_values");
  ASSERT_TRUE(ids.ok() && pixels.ok());
  for (const std::string reading : {"final_norm", "pre_norm"}) {
    testing::ScratchDir scratch("lingcloud_import");
    LingcloudImportOptions o = FixtureImport(c.fixture, scratch.Path("model"));
    o.first_pass_hidden = reading;
    ASSERT_TRUE(ImportLingcloud(o).ok());
    absl::StatusOr<std::unique_ptr<LmeyeModel>> model = LmeyeModel::Load(o.out_dir);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ((*model)->first_pass_pre_norm(), reading == "pre_norm");
    const LingcloudV0Config& v0 = (*model)->adapter_config().lingcloud_v0;
    EngineOptions options;
    options.n_slots = 1;
    options.capacity = 64;
    absl::StatusOr<std::unique_ptr<IpnEngine>> engine = IpnEngine::Create(model->get(), options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    // The prompt as the engine lays it out: P | <img> | X | the tail from the first <img-d>.
    IpnSequence seq;
    const at::Tensor flat = ids->to(at::kLong).contiguous();
    int part = 0;
    for (int64_t t = 0; t < flat.numel(); ++t) {
      const int64_t id = flat[t].item<int64_t>();
      if (id == v0.img_token_id) {
        part = 1;
      } else if (id == v0.imgd_token_id) {
        part = 2;
        seq.tail.push_back(kSlotPosition);
      } else {
        (part == 0 ? seq.prefix : part == 1 ? seq.text : seq.tail).push_back(static_cast<int>(id));
      }
    }
    absl::StatusOr<at::Tensor> h_i = (*engine)->EncodeImages(pixels->unsqueeze(0));
    ASSERT_TRUE(h_i.ok()) << h_i.status();
    seq.h_i = (*h_i)[0];
    ASSERT_TRUE((*engine)->FirstPass({&seq}).ok());
    ASSERT_TRUE((*engine)->Interact({&seq}).ok());
    ASSERT_TRUE((*engine)->SecondPass({&seq}).ok());
    const std::string name =
        reading == "pre_norm" ? "s0.alt_prenorm.logits_last" : "s0.logits_last";
    absl::StatusOr<at::Tensor> want = (*golden)->Get(name);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_LE((seq.next_logits - want->to(at::kFloat)).abs().max().item<double>(), 1e-4) << name;
  }
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
