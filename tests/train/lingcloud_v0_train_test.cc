// lmeye train on the released LingCloud v0 layout (adapter.json layout lingcloud-v0), through the
// same trainer as this project's layout: phase 1 (stage align) trains embedding_img and
// imgLinear, phase 2 (stage instruct) embedding_imgd, promptMlp, llm2clip and imgdLinear, as the
// release's training scripts; a few steps lower the loss, every other tensor (the rest of the
// adapter, CLIP, the LLM) stays byte-identical, and the output directory and checkpoint load back.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/ipn/adapter_config.h"
#include "model/ipn/lmeye_model.h"
#include "model/tools/init_model.h"
#include "model/train/ipn_objective.h"
#include "model/train/trainer.h"
#include "tests/common/served_model.h"
#include "tests/common/test_data.h"
#include "tests/train/train_test_util.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

// A fresh v0 model around the tiny LLaMA fixture's backbones, and the manifests.
class V0Env {
 public:
  static V0Env& Get() {
    static V0Env* env = new V0Env();
    return *env;
  }
  std::string model() const { return root_ + "/model"; }
  std::string Path(const std::string& name) const { return root_ + "/" + name; }

 private:
  V0Env() {
    root_ = ::testing::TempDir() + "/lmeye_v0_train_" + std::to_string(getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::atexit([] { fs::remove_all(Get().root_); });
    InitModelOptions o;
    o.llm_dir = testing::TestData("models/lingcloud-v0-tiny-llama/llm");
    o.clip_dir = testing::TestData("models/lingcloud-v0-tiny-llama/clip");
    o.layout = "lingcloud-v0";
    o.out_dir = model();
    o.seed = 3;
    absl::StatusOr<InitModelReport> report = InitModel(o);
    EXPECT_TRUE(report.ok()) << report.status();
    testing::WriteFile(Path("captions.jsonl"), testing::CaptionManifest());
    testing::WriteFile(Path("conversations.jsonl"), testing::ConversationManifest());
  }
  std::string root_;
};

TrainConfig Config(TrainStage stage, const std::string& out) {
  TrainConfig c;
  c.model = V0Env::Get().model();
  c.stage = stage;
  c.data =
      V0Env::Get().Path(stage == TrainStage::kAlign ? "captions.jsonl" : "conversations.jsonl");
  c.output_dir = V0Env::Get().Path(out);
  fs::remove_all(c.output_dir);
  c.batch_size = 6;  // every example in every step: the loss is over the same data
  c.max_steps = 6;
  c.lr = 1e-2;
  c.threads = 1;
  return c;
}

// Every tensor of the model by name: the adapter under its release names, the backbones
// prefixed; cloned.
std::map<std::string, at::Tensor> Snapshot(LmeyeModel& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : model.lingcloud_v0()->adapter().named_parameters()) {
    out[p.key()] = p.value().detach().clone();
  }
  auto& vision = const_cast<ClipVisionTower&>(model.vision());
  auto& text = const_cast<ClipTextTower&>(model.text());
  for (auto& p : vision.module()->named_parameters()) {
    out["vision." + p.key()] = p.value().detach().clone();
  }
  for (auto& p : text.module()->named_parameters()) {
    out["text." + p.key()] = p.value().detach().clone();
  }
  for (auto& [name, t] : model.llm().NamedTensors()) out["llm." + name] = t.detach().clone();
  return out;
}

void TrainPhase(TrainStage stage) {
  const TrainConfig config = Config(stage, TrainStageName(stage));
  std::unique_ptr<Trainer> trainer = testing::MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  LmeyeModel& model = testing::Ipn(*trainer).model();
  ASSERT_NE(model.lingcloud_v0(), nullptr);
  const std::vector<std::string> names = StageParameterNames(AdapterLayout::kLingcloudV0, stage);
  const std::set<std::string> trained(names.begin(), names.end());
  ASSERT_EQ(trainer->trained().size(), trained.size());
  for (const auto& [name, t] : trainer->trained()) EXPECT_TRUE(trained.count(name)) << name;

  const auto before = Snapshot(model);
  std::vector<double> losses;
  for (int i = 0; i < config.max_steps; ++i) {
    absl::StatusOr<TrainStepStats> stats = trainer->Step();
    ASSERT_TRUE(stats.ok()) << stats.status();
    losses.push_back(stats->loss);
  }
  EXPECT_LT(losses.back(), losses.front()) << "loss " << losses.front() << " -> " << losses.back();
  const auto after = Snapshot(model);
  int n_frozen = 0;
  for (const auto& [name, t] : before) {
    if (trained.count(name)) {
      EXPECT_FALSE(at::equal(t, after.at(name))) << name << " did not change";
    } else {
      EXPECT_TRUE(at::equal(t, after.at(name))) << name << " changed";
      ++n_frozen;
    }
  }
  EXPECT_GT(n_frozen, 40);

  // The output directory is a servable model holding the trained values; the checkpoint
  // resumes them.
  ASSERT_TRUE(trainer->SaveCheckpoint().ok());
  ASSERT_TRUE(trainer->Finish().ok());
  absl::StatusOr<IpnAdapterConfig> written =
      ReadIpnAdapterConfig(config.output_dir + "/adapter.json");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->layout, AdapterLayout::kLingcloudV0);
  EXPECT_EQ(written->lingcloud_v0.embedding_img_from, "embedding_img");
  absl::StatusOr<std::unique_ptr<LmeyeModel>> served = LmeyeModel::Load(config.output_dir);
  ASSERT_TRUE(served.ok()) << served.status();
  for (const auto& p : (*served)->lingcloud_v0()->adapter().named_parameters()) {
    EXPECT_TRUE(at::equal(p.value(), after.at(p.key()))) << p.key();
  }
  absl::StatusOr<std::vector<int64_t>> ids =
      testing::GreedyDescribe(config.output_dir, testing::TestData("images/chelsea.png"), 3);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), 3u);

  TrainConfig again = config;
  again.resume = true;
  std::unique_ptr<Trainer> resumed = testing::MakeTrainer(again);
  ASSERT_NE(resumed, nullptr);
  EXPECT_EQ(resumed->step(), config.max_steps);
  for (const auto& [name, t] : resumed->trained()) {
    EXPECT_TRUE(at::equal(t, after.at(name))) << name;
  }
}

TEST(LingcloudV0TrainTest, Phase1TrainsEmbeddingImgAndImgLinearOnly) {
  TrainPhase(TrainStage::kAlign);
}

TEST(LingcloudV0TrainTest, Phase2TrainsTheInteractionOnly) { TrainPhase(TrainStage::kInstruct); }

}  // namespace
}  // namespace lmeye
