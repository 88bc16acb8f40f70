// lmeye init-model --v01-preset: the tiny v0.1 preset (BLIP-2 T5 + CLIP + the release's IPN names)
// loads through LmeyeModel::Load as a v0.1 model and answers one request through its engine
// (FirstPass, Interact, SecondPass, DecodeStep); the tokenizer gains <img-d>/<img-q> when it lacks
// them; every preset's shapes form a valid Blip2 config.
#include "model/tools/init_model_v01.h"

#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/ipn/adapter_config.h"
#include "model/ipn/engine.h"
#include "model/ipn/lmeye_model.h"
#include "model/llm/t5_config.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/vision/blip2_config.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;
using ::lmeye::testing::ScratchDir;
using ::lmeye::testing::TestData;

// The fixture's T5 tokenizer without its added_tokens.json: init-model must add the two tokens.
std::string BareT5Tokenizer(const ScratchDir& scratch) {
  const std::string src = TestData("models/lingcloud-blip2-tiny/blip2");
  const std::string dir = scratch.Path("t5-tokenizer");
  fs::create_directories(dir);
  for (const char* name : {"spiece.model", "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(src + "/" + name, dir + "/" + name);
  }
  return dir;
}

TEST(InitModelV01Test, TinyPresetLoadsAndAnswersThroughTheEngine) {
  torch::NoGradGuard no_grad;
  ScratchDir scratch("init_model_v01");
  InitModelOptions o;
  o.v01_preset = "tiny";
  o.tokenizer_dir = BareT5Tokenizer(scratch);
  o.out_dir = scratch.Path("model");
  absl::StatusOr<InitModelReport> report = InitModel(o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->vision_params, 0);
  EXPECT_GT(report->llm_params, 0);
  EXPECT_GT(report->clip_params, 0);
  EXPECT_GT(report->adapter_params, 0);
  EXPECT_EQ(report->vocab_size, 384);

  absl::StatusOr<IpnAdapterConfig> config = ReadIpnAdapterConfig(o.out_dir + "/adapter.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->layout, AdapterLayout::kLingcloudV01);
  // The fixture's 256 pieces + 100 extra ids, then the two added, as the release's tokenizer.
  EXPECT_EQ(config->lingcloud_v0_1.imgd_token_id, 356);
  EXPECT_EQ(config->lingcloud_v0_1.imgq_token_id, 357);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(o.out_dir + "/blip2");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->PieceToId("<img-q>"), 357);

  absl::StatusOr<std::unique_ptr<LmeyeModel>> model = LmeyeModel::Load(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_NE((*model)->lingcloud_v01(), nullptr);
  EngineOptions eo;
  eo.n_slots = 2;
  eo.capacity = 64;
  absl::StatusOr<std::unique_ptr<IpnEngine>> engine = IpnEngine::Create(model->get(), eo);
  ASSERT_TRUE(engine.ok()) << engine.status();
  IpnEngine& e = **engine;

  at::manual_seed(0);
  absl::StatusOr<at::Tensor> q = e.EncodeImages(at::randn({1, 3, 32, 32}));
  ASSERT_TRUE(q.ok()) << q.status();
  IpnSequence seq;
  seq.h_i = (*q)[0];
  seq.text = {37, 12, 99, 357};  // a question, then <img-q>
  seq.tail.assign(config->lingcloud_v0_1.imgd_len, kSlotPosition);
  seq.tail.push_back(1);  // </s>
  ASSERT_TRUE(e.FirstPass({&seq}).ok());
  ASSERT_TRUE(e.Interact({&seq}).ok());
  ASSERT_TRUE(e.SecondPass({&seq}).ok());
  ASSERT_EQ(seq.phase, IpnPhase::kReady);
  ASSERT_EQ(seq.next_logits.dim(), 1);
  EXPECT_EQ(seq.next_logits.size(0), 384);
  EXPECT_TRUE(seq.next_logits.isfinite().all().item<bool>());
  int64_t token = seq.next_logits.argmax().item<int64_t>();
  for (int step = 0; step < 4; ++step) {
    absl::StatusOr<at::Tensor> logits = e.DecodeStep({seq.slot}, {token});
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_TRUE(logits->isfinite().all().item<bool>());
    token = logits->argmax(1)[0].item<int64_t>();
  }
  EXPECT_EQ(e.length(seq), 5);  // the start token and four generated
  e.Release(seq);
}

TEST(InitModelV01Test, RealShapePresetIsFlanT5XlWithAFittingInteraction) {
  absl::StatusOr<LingcloudV01Preset> p = FindLingcloudV01Preset("blip2-flan-t5-xl");
  ASSERT_TRUE(p.ok()) << p.status();
  const nlohmann::json config = Blip2T5ConfigJson(*p, p->t5_vocab, InitDType::kBF16);
  absl::StatusOr<Blip2Config> blip2 = ParseBlip2Config(config);
  ASSERT_TRUE(blip2.ok()) << blip2.status();
  EXPECT_EQ(blip2->vision.hidden_size, 1408);
  EXPECT_EQ(blip2->vision.n_layers, 39);
  EXPECT_EQ(blip2->qformer.encoder_hidden_size, 1408);
  EXPECT_EQ(blip2->n_query_tokens, 32);
  absl::StatusOr<T5Config> t5 = ParseT5Config(config["text_config"]);
  ASSERT_TRUE(t5.ok()) << t5.status();
  EXPECT_EQ(t5->d_model, 2048);
  EXPECT_EQ(t5->inner_dim(), 2048);
  EXPECT_TRUE(t5->gated);
  EXPECT_FALSE(t5->tie_word_embeddings);
  EXPECT_EQ(t5->vocab_size, 32128);
  EXPECT_FALSE(FindLingcloudV01Preset("flan-t5-xxl").ok());
}

TEST(InitModelV01Test, NonT5TokenizerIsRefused) {
  ScratchDir scratch("init_model_v01_tok");
  InitModelOptions o;
  o.v01_preset = "tiny";
  o.tokenizer_dir = TestData("models/lingcloud-blip2-tiny/clip");  // CLIP's BPE, no spiece.model
  o.out_dir = scratch.Path("model");
  absl::StatusOr<InitModelReport> report = InitModel(o);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("spiece.model"), std::string::npos) << report.status();
  EXPECT_FALSE(fs::exists(o.out_dir));
}

}  // namespace
}  // namespace lmeye
