// The trainer on a tiny random LMEye model: frozen means frozen, the loss falls on real photos,
// resume is exact, and the two-pass graph's gradients agree with finite differences.
#include "model/train/trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/io/safetensors.h"
#include "model/ipn/engine.h"
#include "model/train/qa_eval.h"
#include "model/train/stage_loss.h"
#include "tests/train/train_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::Ipn;
using ::lmeye::testing::MakeTrainer;
using ::lmeye::testing::TrainEnv;

// Every tensor of the model by a unique name, cloned.
std::map<std::string, at::Tensor> Snapshot(LmeyeModel& model, bool backbones_only) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, t] : model.llm().NamedTensors()) out["llm." + name] = t.clone();
  // The towers are logically const; their module() accessors are not.
  auto& vision = const_cast<ClipVisionTower&>(model.vision());
  for (auto& p : vision.module()->named_parameters()) out["vision." + p.key()] = p.value().clone();
  auto& text = const_cast<ClipTextTower&>(model.text());
  for (auto& p : text.module()->named_parameters()) out["text." + p.key()] = p.value().clone();
  if (!backbones_only) {
    for (auto& p : model.adapter()->named_parameters()) out["ipn." + p.key()] = p.value().clone();
  }
  return out;
}

// The trainer's first n examples (all of them, if fewer) as one batch.
TrainBatch FirstExamples(Trainer& trainer, size_t n) {
  std::vector<const TrainExample*> examples;
  for (const TrainExample& e : Ipn(trainer).data().examples) examples.push_back(&e);
  examples.resize(std::min(examples.size(), n));
  return MakeBatch(examples, Ipn(trainer).features());
}

void CheckFrozen(TrainStage stage) {
  TrainConfig config = TrainEnv::Get().Config(stage, "frozen");
  config.lr = 1e-3;
  auto trainer = MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  LmeyeModel& model = Ipn(*trainer).model();
  const auto before = Snapshot(model, /*backbones_only=*/false);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(trainer->Step().ok());
  const auto after = Snapshot(model, false);
  std::set<std::string> trained;
  for (const std::string& name : StageParameterNames(stage)) trained.insert(name);
  ASSERT_EQ(trainer->trained().size(), trained.size());
  int n_backbone = 0;
  for (const auto& [name, t] : before) {
    if (trained.count(name)) {
      EXPECT_FALSE(at::equal(t, after.at(name))) << name << " did not change";
    } else {
      EXPECT_TRUE(at::equal(t, after.at(name))) << name << " changed";
      n_backbone += name.rfind("ipn.", 0) != 0;
    }
  }
  EXPECT_GT(n_backbone, 40);
  // No gradient anywhere but the trained parameters.
  auto& vision = const_cast<ClipVisionTower&>(model.vision());
  auto& text = const_cast<ClipTextTower&>(model.text());
  std::vector<std::pair<std::string, at::Tensor>> all;
  for (auto& p : vision.module()->named_parameters())
    all.emplace_back("vision." + p.key(), p.value());
  for (auto& p : text.module()->named_parameters()) all.emplace_back("text." + p.key(), p.value());
  for (auto& p : model.adapter()->named_parameters()) all.emplace_back("ipn." + p.key(), p.value());
  for (auto& [name, t] : model.llm().NamedTensors()) all.emplace_back("llm." + name, t);
  for (const auto& [name, t] : all) {
    const bool train = trained.count(name) > 0;
    EXPECT_EQ(t.requires_grad(), train) << name;
    EXPECT_EQ(t.grad().defined(), train) << name;
  }
}

TEST(TrainerTest, AlignTrainsOnlyImgTokenAndAlign) { CheckFrozen(TrainStage::kAlign); }
TEST(TrainerTest, InstructTrainsOnlyPhaseTwoParameters) { CheckFrozen(TrainStage::kInstruct); }

// Mean NLL per target token over the training manifest, before and after training on it.
void CheckLossFalls(TrainStage stage, int steps, double lr) {
  TrainConfig config = TrainEnv::Get().Config(stage, "loss");
  config.eval_data = config.data;
  config.lr = lr;
  config.max_steps = steps;
  config.warmup_steps = 2;
  config.log_every = 1000;
  auto trainer = MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  auto before = trainer->Evaluate();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(trainer->Run().ok());
  auto after = trainer->Evaluate();
  ASSERT_TRUE(after.ok());
  ::testing::Test::RecordProperty("loss_before", std::to_string(before->loss));
  ::testing::Test::RecordProperty("loss_after", std::to_string(after->loss));
  // A random 2-layer LLM bounds how far one image vector (align) or one slot vector (instruct)
  // can move its predictions over a 50k vocabulary: a clear fall, not convergence (measured:
  // align 10.91 -> 10.73, instruct 10.94 -> 10.56 nats per token).
  EXPECT_LT(after->loss, before->loss - 0.1)
      << "before " << before->loss << " after " << after->loss;
  if (stage == TrainStage::kInstruct) {
    EXPECT_EQ(after->n_scored, 6);  // every conversation answer is a few tokens
    EXPECT_GE(after->accuracy, 0.0);
    EXPECT_LE(after->accuracy, 1.0);
  }
  // The output directory is a model directory with the trained adapter.
  auto served = LmeyeModel::Load(config.output_dir);
  ASSERT_TRUE(served.ok()) << served.status();
  for (const auto& [name, t] : trainer->trained()) {
    auto params = (*served)->adapter()->named_parameters();
    EXPECT_TRUE(at::equal(params[name.substr(4)], t)) << name;
  }
}

TEST(TrainerTest, AlignLossFallsOnCaptionsOfPhotos) {
  CheckLossFalls(TrainStage::kAlign, 60, 3e-2);
}
TEST(TrainerTest, InstructLossFallsOnConversations) {
  CheckLossFalls(TrainStage::kInstruct, 60, 3e-2);
}

// N steps, stop, resume for N more == 2N straight. Batches of 2 x 2 over 6 examples cross
// epoch boundaries inside a step; warmup and cosine make the lr depend on the step. `grouped`:
// group_by_length, whose order a resumed run must repeat too (and cannot switch).
void CheckResume(TrainStage stage, bool grouped = false) {
  constexpr int kN = 3;
  auto config = [&](const std::string& out) {
    TrainConfig c = TrainEnv::Get().Config(stage, out);
    c.batch_size = 2;
    c.grad_accum = 2;
    c.max_steps = 2 * kN;
    c.warmup_steps = 2;
    c.lr = 1e-3;
    c.seed = 7;
    c.group_by_length = grouped;
    return c;
  };
  TrainConfig straight_config = config("straight");
  auto straight = MakeTrainer(straight_config);
  ASSERT_NE(straight, nullptr);
  ASSERT_TRUE(straight->Run().ok());

  TrainConfig first_config = config("resumed");
  auto first = MakeTrainer(first_config);
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(first->Step().ok());
  first->RequestStop();
  ASSERT_TRUE(first->Run().ok());  // a stop before the next step: checkpoint and return
  EXPECT_TRUE(first->stopped());
  first.reset();

  // A write killed between its temporary and the rename (SIGKILL) left this behind.
  const std::string stale = first_config.output_dir + "/checkpoint.safetensors.tmp.Ab3xQ9";
  std::ofstream(stale) << "partial";
  const std::string unrelated = first_config.output_dir + "/notes.tmp.txt";
  std::ofstream(unrelated) << "kept";

  TrainConfig switched = first_config;
  switched.resume = true;
  switched.group_by_length = !grouped;
  auto refused = Trainer::Create(switched, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("group_by_length"), std::string::npos)
      << refused.status();

  TrainConfig second_config = first_config;
  second_config.resume = true;
  second_config.reinit = true;  // overwritten by the checkpoint
  auto second = MakeTrainer(second_config);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->step(), kN);
  EXPECT_FALSE(std::filesystem::exists(stale)) << "a stale checkpoint temporary was kept";
  EXPECT_TRUE(std::filesystem::exists(unrelated));
  ASSERT_TRUE(second->Run().ok());
  EXPECT_EQ(second->step(), 2 * kN);

  for (size_t i = 0; i < straight->trained().size(); ++i) {
    const auto& [name, a] = straight->trained()[i];
    const at::Tensor& b = second->trained()[i].second;
    EXPECT_LE((a - b).abs().max().item<double>(), 1e-6) << name;
  }
  // The final adapters on disk as well.
  auto fa = SafetensorsFile::Open(straight_config.output_dir + "/adapter.safetensors");
  auto fb = SafetensorsFile::Open(second_config.output_dir + "/adapter.safetensors");
  ASSERT_TRUE(fa.ok() && fb.ok());
  for (const auto& e : (*fa)->entries()) {
    EXPECT_LE(
        ((*fa)->Load(e.name).value() - (*fb)->Load(e.name).value()).abs().max().item<double>(),
        1e-6)
        << e.name;
  }
}

TEST(TrainerTest, AlignResumeEqualsStraightRun) { CheckResume(TrainStage::kAlign); }
TEST(TrainerTest, InstructResumeEqualsStraightRun) { CheckResume(TrainStage::kInstruct); }
TEST(TrainerTest, InstructGroupedByLengthResumeEqualsStraightRun) {
  CheckResume(TrainStage::kInstruct, /*grouped=*/true);
}

// Gradient accumulation is one big batch: 2 micro-batches of 2 give the gradient of 1 batch of 4
// (the loss of a step is normalised by the target tokens of the whole step, not per
// micro-batch). Gradients, not parameters: Adam's first steps move every entry by about lr
// whatever its gradient, so float32 noise in a near-zero gradient entry would show in the
// parameters without saying anything about accumulation.
TEST(TrainerTest, AccumulationEqualsOneBigBatch) {
  auto step = [](const std::string& out, int batch, int accum) {
    TrainConfig c = TrainEnv::Get().Config(TrainStage::kInstruct, out);
    c.batch_size = batch;
    c.grad_accum = accum;
    c.max_grad_norm = 0;  // the raw gradient
    auto trainer = MakeTrainer(c);
    EXPECT_NE(trainer, nullptr);
    EXPECT_TRUE(trainer->Step().ok());
    return trainer;
  };
  auto big = step("accum_big", 4, 1);
  auto accumulated = step("accum_small", 2, 2);
  ASSERT_TRUE(big && accumulated);
  for (size_t i = 0; i < big->trained().size(); ++i) {
    const auto& [name, a] = big->trained()[i];
    const at::Tensor& ga = a.grad();
    const at::Tensor& gb = accumulated->trained()[i].second.grad();
    const double scale = ga.abs().max().item<double>();
    EXPECT_GT(scale, 0) << name;
    EXPECT_LE((ga - gb).abs().max().item<double>(), 1e-5 * scale) << name;
  }
}

// Finite differences of the instruct loss against autograd, for entries of ipn.request and
// ipn.decompose (reached only through the first pass, the text tower and the second pass): the
// three largest gradient entries, two others, and a random direction per tensor. float32
// throughout (the LLM runs in float32 at most): the summed loss (~270 nats) is known to about
// 3e-5, which central differences with eps 1e-2 turn into ~1.5e-3 of noise, hence 2e-3
// absolute + 2% relative (measured agreement: within 1% on the large entries).
TEST(TrainerTest, InstructGradientsMatchFiniteDifferences) {
  TrainConfig config = TrainEnv::Get().Config(TrainStage::kInstruct, "gradcheck");
  auto trainer = MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  TrainBatch batch = FirstExamples(*trainer, 3);
  LmeyeModel& model = Ipn(*trainer).model();
  auto loss_at = [&]() {
    torch::NoGradGuard no_grad;
    return StageLossSum(model, TrainStage::kInstruct, batch).value().item<double>();
  };
  auto loss = StageLossSum(model, TrainStage::kInstruct, batch);
  ASSERT_TRUE(loss.ok()) << loss.status();
  loss->backward();
  constexpr double kEps = 1e-2;
  auto params = model.adapter()->named_parameters();
  for (const char* name :
       {"request.weight", "request.bias", "decompose.weight", "decompose.bias"}) {
    at::Tensor p = params[name];
    at::Tensor g = p.grad().clone().flatten();
    at::Tensor flat = p.view({-1});
    // The three entries with the largest gradient and two fixed others.
    std::vector<int64_t> entries;
    at::Tensor top = std::get<1>(g.abs().topk(3));
    for (int64_t k = 0; k < 3; ++k) entries.push_back(top[k].item<int64_t>());
    entries.push_back(flat.numel() / 3);
    entries.push_back(flat.numel() - 1);
    for (int64_t i : entries) {
      double plus, minus;
      {
        torch::NoGradGuard no_grad;
        const float orig = flat[i].item<float>();
        flat[i] = orig + kEps;
        plus = loss_at();
        flat[i] = orig - kEps;
        minus = loss_at();
        flat[i] = orig;
      }
      const double fd = (plus - minus) / (2 * kEps);
      const double ag = g[i].item<double>();
      std::cerr << name << "[" << i << "] autograd " << ag << " finite difference " << fd << "\n";
      EXPECT_NEAR(fd, ag, 2e-2 * std::abs(ag) + 2e-3) << name << "[" << i << "]";
    }
    // A random direction over the whole tensor.
    at::Tensor d = at::randn(p.sizes(), at::detail::createCPUGenerator(3));
    d /= d.norm();
    double plus, minus;
    {
      torch::NoGradGuard no_grad;
      p.add_(d, kEps);
      plus = loss_at();
      p.add_(d, -2 * kEps);
      minus = loss_at();
      p.add_(d, kEps);
    }
    const double fd = (plus - minus) / (2 * kEps);
    const double ag = (g * d.flatten()).sum().item<double>();
    std::cerr << name << " direction: autograd " << ag << " finite difference " << fd << "\n";
    EXPECT_NEAR(fd, ag, 2e-2 * std::abs(ag) + 2e-3) << name << " random direction";
  }
}

// The instruct loss runs the prompt once without grad and continues both passes from it when
// nothing before the slot trains (the instruct stage); with a phase-1 tensor trained as well it
// runs both passes over the whole sequence. Same loss and same adapter gradients either way.
TEST(TrainerTest, InstructLossFromThePromptEqualsBothWholePasses) {
  TrainConfig config = TrainEnv::Get().Config(TrainStage::kInstruct, "from_prompt");
  auto trainer = MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  TrainBatch batch = FirstExamples(*trainer, 5);
  LmeyeModel& model = Ipn(*trainer).model();
  auto params = model.adapter()->named_parameters();
  auto loss_and_grads = [&]() {
    for (auto& p : params) {
      if (p.value().grad().defined()) p.value().mutable_grad() = at::Tensor();
    }
    auto loss = StageLossSum(model, TrainStage::kInstruct, batch);
    EXPECT_TRUE(loss.ok()) << loss.status();
    loss->backward();
    std::vector<at::Tensor> grads;
    for (const char* name :
         {"imgd_token", "request.weight", "decompose.weight", "transmit.weight"}) {
      grads.push_back(params[name].grad().clone());
    }
    return std::make_pair(loss->item<double>(), grads);
  };
  const auto [from_prompt, g_prompt] = loss_and_grads();
  params["align.weight"].set_requires_grad(true);  // h_img now trains: the whole passes
  const auto [whole, g_whole] = loss_and_grads();
  params["align.weight"].set_requires_grad(false);
  EXPECT_NEAR(from_prompt, whole, 1e-5 * std::abs(whole));
  for (size_t i = 0; i < g_prompt.size(); ++i) {
    const double scale = g_whole[i].abs().max().item<double>();
    EXPECT_GT(scale, 0) << i;
    EXPECT_LE((g_prompt[i] - g_whole[i]).abs().max().item<double>(), 1e-4 * scale) << i;
  }
}

// Training optimises what serving runs: the instruct loss of a one-token target equals the
// engine's next-token log-probability after its first pass, interaction and second pass (which
// reuses the first pass's KV cache instead of recomputing the prompt).
TEST(TrainerTest, InstructLossIsWhatTheServingEngineComputes) {
  TrainConfig config = TrainEnv::Get().Config(TrainStage::kInstruct, "serving");
  config.lr = 1e-2;
  auto trainer = MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(trainer->Step().ok());  // away from the initial adapter
  LmeyeModel& model = Ipn(*trainer).model();
  EngineOptions options;
  options.n_slots = 1;
  options.capacity = 256;
  auto engine = IpnEngine::Create(&model, options);
  ASSERT_TRUE(engine.ok());
  for (const TrainExample& full : Ipn(*trainer).data().examples) {
    TrainExample e = full;
    e.target = {full.target[0]};
    std::vector<const TrainExample*> one = {&e};
    double nll;
    {
      torch::NoGradGuard no_grad;
      nll = StageLossSum(model, TrainStage::kInstruct, MakeBatch(one, Ipn(*trainer).features()))
                .value()
                .item<double>();
    }
    IpnSequence seq;
    seq.h_i = Ipn(*trainer).features()[e.image];
    seq.prefix = e.prefix;
    seq.text = e.text;
    ASSERT_TRUE((*engine)->FirstPass({&seq}).ok());
    ASSERT_TRUE((*engine)->Interact({&seq}).ok());
    ASSERT_TRUE((*engine)->SecondPass({&seq}).ok());
    const double logp = at::log_softmax(seq.next_logits, -1)[e.target[0]].item<double>();
    EXPECT_NEAR(nll, -logp, 1e-4) << "line " << e.line;
    (*engine)->Release(seq);
  }
}

TEST(QaEvalTest, NormalizeAnswer) {
  EXPECT_EQ(NormalizeAnswer("  A  Cat. "), "a cat");
  EXPECT_EQ(NormalizeAnswer("True"), "true");
  EXPECT_EQ(NormalizeAnswer(""), "");
}

}  // namespace
}  // namespace lmeye
