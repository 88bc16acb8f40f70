// lmeye init-model --llm DIR --clip DIR: a model directory around real Hugging Face backbones
// (the tiny fixtures stand in for downloaded ones) with a fresh adapter of either layout, which the
// serving loader loads and generates from; the v0 layout adds <img>/<img-d> to an LLM that lacks
// them as the release does (resize_token_embeddings), without touching the source; mismatched
// widths are refused naming both sides.
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/common/file_util.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/lingcloud_v0_adapter.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tools/init_model.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/served_model.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

std::string Fixture(const std::string& path) { return testing::TestData("models/" + path); }

InitModelOptions Backbones(const std::string& llm, const std::string& clip,
                           const std::string& layout, const std::string& out) {
  InitModelOptions o;
  o.llm_dir = llm;
  o.clip_dir = clip;
  o.layout = layout;
  o.out_dir = out;
  o.seed = 7;
  return o;
}

void ExpectServes(const std::string& dir, int64_t vocab) {
  absl::StatusOr<std::vector<int64_t>> ids =
      testing::GreedyDescribe(dir, testing::TestData("images/chelsea.png"), 4);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->size(), 4u);
  for (int64_t id : *ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, vocab);
  }
}

bool Mentions(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

TEST(InitModelBackbonesTest, OwnLayoutAroundDownloadedBackbonesServes) {
  testing::ScratchDir scratch("init_backbones");
  const std::string out = scratch.Path("model");
  absl::StatusOr<InitModelReport> report =
      InitModel(Backbones(Fixture("lingcloud-v0-tiny-llama/llm"),
                          Fixture("lingcloud-v0-tiny-llama/clip"), "lmeye", out));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->adapter_params, 0);
  EXPECT_TRUE(fs::is_symlink(out + "/llm"));
  EXPECT_TRUE(fs::is_symlink(out + "/clip"));
  absl::StatusOr<IpnAdapterConfig> config = ReadIpnAdapterConfig(out + "/adapter.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->layout, AdapterLayout::kLmeye);
  ExpectServes(out, 514);
}

TEST(InitModelBackbonesTest, LingcloudV0AroundALlmWithTheTokensLinksIt) {
  testing::ScratchDir scratch("init_backbones");
  const std::string out = scratch.Path("model");
  InitModelOptions o = Backbones(Fixture("lingcloud-v0-tiny-bloom/llm"),
                                 Fixture("lingcloud-v0-tiny-bloom/clip"), "lingcloud-v0", out);
  o.copy_backbones = true;
  absl::StatusOr<InitModelReport> report = InitModel(o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(fs::is_symlink(out + "/llm"));  // copied
  absl::StatusOr<IpnAdapterConfig> config = ReadIpnAdapterConfig(out + "/adapter.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->layout, AdapterLayout::kLingcloudV0);
  EXPECT_EQ(config->lingcloud_v0.img_token_id, 700);
  EXPECT_EQ(config->lingcloud_v0.imgd_token_id, 701);
  EXPECT_FALSE(config->lingcloud_v0.strip_around_image_tokens);  // BLOOM's fast tokenizer
  // A fresh adapter is trained and served with its own embedding_img.
  EXPECT_EQ(config->lingcloud_v0.embedding_img_from, "embedding_img");
  EXPECT_EQ(config->lingcloud_v0.first_pass_hidden, "final_norm");

  // The release's initialisation: embedding_img(d) N(0, 1), Linear within 1/sqrt(fan_in).
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> adapter =
      SafetensorsFile::Open(out + "/adapter.safetensors");
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  absl::StatusOr<at::Tensor> emb = (*adapter)->Load("embedding_imgd", at::kFloat);
  absl::StatusOr<at::Tensor> w = (*adapter)->Load("promptMlp.weight", at::kFloat);
  ASSERT_TRUE(emb.ok() && w.ok());
  EXPECT_EQ(emb->sizes(), (std::vector<int64_t>{1, 64}));
  EXPECT_GT(emb->std().item<double>(), 0.5);
  EXPECT_LE(w->abs().max().item<double>(), 1.0 / std::sqrt(48.0) + 1e-6);
  ExpectServes(out, 702);
}

// A LLaMA whose tokenizer lacks <img>/<img-d> and whose table has exactly its 512 pieces: the
// tokens become 512 and 513, the table and lm_head grow to 514 rows, the first 512 unchanged.
TEST(InitModelBackbonesTest, LingcloudV0AddsTheTokensAndResizesTheTablesAsTheRelease) {
  testing::ScratchDir scratch("init_backbones");
  const std::string src = scratch.Path("llama");
  fs::create_directories(src);
  const std::string fixture = Fixture("lingcloud-v0-tiny-llama/llm");
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json"}) {
    fs::copy_file(fixture + "/" + name, src + "/" + name);
  }
  absl::StatusOr<nlohmann::json> config = ReadJsonFile(fixture + "/config.json");
  ASSERT_TRUE(config.ok());
  (*config)["vocab_size"] = 512;
  ASSERT_TRUE(WriteFileAtomically(src + "/config.json", config->dump(2)).ok());
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(fixture);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const std::string& name : (*ckpt)->names()) {
    at::Tensor t = *(*ckpt)->Load(name, (*ckpt)->Info(name)->dtype);
    if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
      t = t.narrow(0, 0, 512).contiguous();
    }
    tensors.emplace_back(name, t);
  }
  ASSERT_TRUE(WriteSafetensors(src + "/model.safetensors", tensors).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> before = LoadTokenizer(src);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_FALSE((*before)->PieceToId("<img>").has_value());

  const std::string out = scratch.Path("model");
  absl::StatusOr<InitModelReport> report =
      InitModel(Backbones(src, Fixture("lingcloud-v0-tiny-llama/clip"), "lingcloud-v0", out));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->vocab_size, 514);
  absl::StatusOr<IpnAdapterConfig> adapter = ReadIpnAdapterConfig(out + "/adapter.json");
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ(adapter->lingcloud_v0.img_token_id, 512);
  EXPECT_EQ(adapter->lingcloud_v0.imgd_token_id, 513);
  EXPECT_TRUE(adapter->lingcloud_v0.strip_around_image_tokens);  // LLaMA's slow tokenizer

  // The new llm/: the source's weights linked, the two tables resized beside them.
  EXPECT_TRUE(fs::is_symlink(out + "/llm/model-00001-of-00001.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/llm/model.safetensors.index.json"));
  absl::StatusOr<std::unique_ptr<Checkpoint>> resized = Checkpoint::Open(out + "/llm");
  ASSERT_TRUE(resized.ok()) << resized.status();
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
    at::Tensor original = *(*ckpt)->Load(name, at::kFloat);
    at::Tensor grown = *(*resized)->Load(name, at::kFloat);
    ASSERT_EQ(grown.size(0), 514) << name;
    EXPECT_TRUE(at::equal(grown.narrow(0, 0, 512), original.narrow(0, 0, 512))) << name;
    EXPECT_GT(grown.narrow(0, 512, 2).abs().sum().item<double>(), 0) << name;
    EXPECT_LT(grown.narrow(0, 512, 2).abs().max().item<double>(), 0.2) << name;  // N(0, 0.02)
  }
  // The source is as it was.
  absl::StatusOr<nlohmann::json> source_config = ReadJsonFile(src + "/config.json");
  EXPECT_EQ((*source_config)["vocab_size"], 512);
  EXPECT_FALSE(fs::exists(src + "/added_tokens.json"));
  ExpectServes(out, 514);
}

TEST(InitModelBackbonesTest, MismatchedWidthsAreRefusedNamingBothSides) {
  testing::ScratchDir scratch("init_backbones");
  // This CLIP projects images to 32 but its text tower is 48 wide: the v0 layout needs one width.
  const std::string clip = Fixture("lmeye-tiny-opt/clip");
  InitModelOptions o = Backbones(Fixture("lingcloud-v0-tiny-llama/llm"), clip, "lingcloud-v0",
                                 scratch.Path("model"));
  absl::StatusOr<InitModelReport> report = InitModel(o);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(report.status(), "32")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), "48")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), "image feature")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), "text width")) << report.status();
  EXPECT_TRUE(Mentions(report.status(), clip)) << report.status();
  EXPECT_FALSE(fs::exists(o.out_dir)) << "nothing is written on an error";

  // A CLIP directory that is not a full CLIPModel, and an unknown layout.
  o.clip_dir = Fixture("clip-vision-tiny");
  EXPECT_FALSE(InitModel(o).ok());
  o.clip_dir = Fixture("lingcloud-v0-tiny-llama/clip");
  o.layout = "lingcloud-v1";
  EXPECT_EQ(InitModel(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lmeye
