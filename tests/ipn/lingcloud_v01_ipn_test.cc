// The LMEye v0.1 interaction glue against the lingcloud-blip2-tiny goldens, stage by stage, from
// the goldens' own inputs of each stage (the BLIP-2 towers and T5 are tested on their own): the
// adapter is the release's .pth, converted as `lmeye import lingcloud` converts it.
#include "model/ipn/lingcloud_v01_ipn.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/io/torch_checkpoint.h"
#include "model/verify/golden.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

constexpr int64_t kQueries = 8;

class LingcloudV01IpnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestData("models/lingcloud-blip2-tiny");
    auto golden = GoldenSet::Open(dir_);
    ASSERT_TRUE(golden.ok()) << golden.status();
    golden_ = std::move(*golden);
    const nlohmann::json& settings = golden_->spec()["release_settings"];
    options_.imgd_token_id = settings["imgd_token_id"].get<int64_t>();
    options_.imgq_token_id = settings["imgq_token_id"].get<int64_t>();
    const nlohmann::json& clip_ids = golden_->spec()["clip_interaction_text"]["ids"];
    options_.clip_bos_id = clip_ids.front().get<int64_t>();
    options_.clip_eos_id = clip_ids.back().get<int64_t>();

    auto text = ClipTextTower::Load(dir_ + "/clip");
    ASSERT_TRUE(text.ok()) << text.status();
    text_ = std::move(*text);
    auto shared = Checkpoint::Open(dir_ + "/blip2");
    ASSERT_TRUE(shared.ok()) << shared.status();
    auto table = (*shared)->Load("language_model.shared.weight", at::kFloat);
    ASSERT_TRUE(table.ok()) << table.status();
    shared_ = *table;

    // The .pth's `net`, "module." removed, into a safetensors file the loader reads.
    auto pth = TorchCheckpoint::Open(dir_ + "/lmeye_checkpoint.pth");
    ASSERT_TRUE(pth.ok()) << pth.status();
    TorchReadOptions strip;
    strip.strip_ddp_prefix = true;
    auto infos = (*pth)->Tensors("net", strip);
    ASSERT_TRUE(infos.ok()) << infos.status();
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const TorchTensorInfo& info : *infos) {
      auto t = (*pth)->Load(info);
      ASSERT_TRUE(t.ok()) << t.status();
      tensors.emplace_back(info.name, *t);
    }
    adapter_file_ = ::testing::TempDir() + "/lingcloud_v01_adapter.safetensors";
    ASSERT_TRUE(WriteSafetensors(adapter_file_, tensors).ok());
    dims_.d_model = shared_.size(1);
    dims_.d_qformer = Get("s0.qformer.last_hidden_state").size(1);
    dims_.d_clip = text_->hidden_size();
    dims_.imgd_len = 5;
    ipn_ = Create(options_);
  }

  std::unique_ptr<LingcloudV01Ipn> Create(const LingcloudV01Config& options) {
    auto adapter = LoadLingcloudV01Adapter(adapter_file_, dims_, at::kFloat);
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    if (!adapter.ok()) return nullptr;
    auto ipn = LingcloudV01Ipn::Create(*adapter, text_.get(), kQueries, options);
    EXPECT_TRUE(ipn.ok()) << ipn.status();
    return ipn.ok() ? std::move(*ipn) : nullptr;
  }

  at::Tensor Get(const std::string& name) {
    auto t = golden_->Get(name);
    EXPECT_TRUE(t.ok()) << name << ": " << t.status();
    return t.ok() ? *t : at::Tensor();
  }

  std::string dir_, adapter_file_;
  std::unique_ptr<GoldenSet> golden_;
  std::unique_ptr<ClipTextTower> text_;
  at::Tensor shared_;
  LingcloudV01Config options_;
  LingcloudV01Dims dims_;
  std::unique_ptr<LingcloudV01Ipn> ipn_;
  torch::NoGradGuard no_grad_;
};

TEST_F(LingcloudV01IpnTest, EveryStageMatchesTheGoldens) {
  ASSERT_NE(ipn_, nullptr);
  for (const std::string s : {"s0.", "s1.", "s2."}) {
    SCOPED_TRACE(s);
    at::Tensor q = Get(s + "qformer.last_hidden_state").unsqueeze(0);
    at::Tensor ids = Get(s + "input_ids").unsqueeze(0);
    auto lmi = ipn_->LanguageInputs(q);
    ASSERT_TRUE(lmi.ok()) << lmi.status();
    EXPECT_TRUE(testing::MatchesGolden((*lmi)[0], Get(s + "language_model_inputs")));
    auto first = ipn_->FirstPassInputs(*lmi, shared_.index_select(0, ids[0]).unsqueeze(0), ids);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_TRUE(testing::MatchesGolden((*first)[0], Get(s + "first.inputs_embeds")));

    auto imgq = ipn_->ImgqRows(ids);
    ASSERT_TRUE(imgq.ok()) << imgq.status();
    at::Tensor encoded = Get(s + "first.encoder_last_hidden_state");
    EXPECT_TRUE(testing::MatchesGolden(encoded[(*imgq)[0]], Get(s + "pre_query.hidden")));

    LingcloudV01Trace trace;
    auto prompt = ipn_->Interact(q, Get(s + "pre_query.hidden").unsqueeze(0), &trace);
    ASSERT_TRUE(prompt.ok()) << prompt.status();
    EXPECT_TRUE(testing::MatchesGolden(trace.pre_query[0], Get(s + "pre_query")));
    EXPECT_TRUE(
        testing::MatchesGolden(trace.query_output_linear[0], Get(s + "query_output_linear")));
    EXPECT_TRUE(testing::MatchesGolden(trace.clip_hidden_states[0], Get(s + "clip_hidden_states")));
    EXPECT_TRUE(
        testing::MatchesGolden(trace.clip_last_hidden[0], Get(s + "clip_last_hidden_state")));
    EXPECT_TRUE(testing::MatchesGolden(trace.clip_text_feature[0], Get(s + "clip_text_feature")));
    EXPECT_TRUE(testing::MatchesGolden((*prompt)[0], Get(s + "imgd_prompt")));

    auto second = ipn_->SecondPassInputs(Get(s + "first.inputs_embeds").unsqueeze(0), ids,
                                         Get(s + "imgd_prompt").unsqueeze(0));
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(testing::MatchesGolden((*second)[0], Get(s + "second.inputs_embeds")));
  }
}

TEST_F(LingcloudV01IpnTest, ABatchOfTwoEqualsEachAlone) {
  ASSERT_NE(ipn_, nullptr);
  at::Tensor q =
      at::stack({Get("s0.qformer.last_hidden_state"), Get("s1.qformer.last_hidden_state")});
  at::Tensor h = at::stack({Get("s0.pre_query.hidden"), Get("s1.pre_query.hidden")});
  auto both = ipn_->Interact(q, h);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_TRUE(testing::MatchesGolden((*both)[0], Get("s0.imgd_prompt")));
  EXPECT_TRUE(testing::MatchesGolden((*both)[1], Get("s1.imgd_prompt")));
}

TEST_F(LingcloudV01IpnTest, TheIntendedRequestRowsGiveAnotherPrompt) {
  LingcloudV01Config intended = options_;
  intended.clip_rows = "request";
  std::unique_ptr<LingcloudV01Ipn> other = Create(intended);
  ASSERT_NE(other, nullptr);
  LingcloudV01Trace trace;
  auto prompt = other->Interact(Get("s0.qformer.last_hidden_state").unsqueeze(0),
                                Get("s0.pre_query.hidden").unsqueeze(0), &trace);
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  // The request rows Q+1..Q+5 of the same interaction, not the last five.
  at::Tensor hidden = Get("s0.clip_last_hidden_state");
  auto projected = text_->Project(hidden.narrow(0, kQueries + 1, 5));
  ASSERT_TRUE(projected.ok());
  EXPECT_TRUE(testing::MatchesGolden(trace.clip_text_feature[0], *projected));
  EXPECT_GT((*prompt - Get("s0.imgd_prompt")).abs().max().item<float>(), 1e-3);
}

TEST_F(LingcloudV01IpnTest, PromptsWithoutTheMarkersAreRefusedByRow) {
  ASSERT_NE(ipn_, nullptr);
  at::Tensor ids = Get("s0.input_ids").unsqueeze(0).clone();
  at::Tensor no_imgq = ids.masked_fill(ids == options_.imgq_token_id, 5);
  auto rows = ipn_->ImgqRows(at::cat({ids, no_imgq}));
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(rows.status().message().find("prompt 1 has 0 <img-q>"), std::string::npos);

  at::Tensor one_imgd_less = ids.clone();
  const int64_t first_imgd = (ids[0] == options_.imgd_token_id).nonzero()[0][0].item<int64_t>();
  one_imgd_less[0][first_imgd] = 5;
  auto second = ipn_->SecondPassInputs(Get("s0.first.inputs_embeds").unsqueeze(0), one_imgd_less,
                                       Get("s0.imgd_prompt").unsqueeze(0));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("has 4 <img-d>"), std::string::npos);

  auto bad =
      ipn_->Interact(at::zeros({1, kQueries + 1, dims_.d_qformer}), at::zeros({1, dims_.d_model}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LingcloudV01IpnTest, AMismatchedTextTowerIsNamed) {
  LingcloudV01Dims wrong = dims_;
  wrong.d_clip = dims_.d_clip + 1;
  LingcloudV01Adapter adapter(wrong);
  auto ipn = LingcloudV01Ipn::Create(adapter, text_.get(), kQueries, options_);
  ASSERT_FALSE(ipn.ok());
  EXPECT_NE(ipn.status().message().find("the CLIP text tower"), std::string::npos);
}

}  // namespace
}  // namespace lmeye
