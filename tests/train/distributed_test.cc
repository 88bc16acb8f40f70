// Data parallel training with c10d Gloo on localhost: 2 processes with per-rank batch B give the
// adapter of 1 process with batch 2B. The test binary starts two copies of itself as the ranks
// (torchrun's variables in their environment) and trains the single process meanwhile.
#include "model/train/distributed.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "model/io/safetensors.h"
#include "model/train/trainer.h"
#include "tests/train/train_test_util.h"

extern char** environ;

namespace lmeye {
namespace {

using ::lmeye::testing::FreePort;
using ::lmeye::testing::Ipn;
using ::lmeye::testing::TrainEnv;

constexpr int kRankBatch = 2;

TrainConfig DdpConfig(TrainStage stage, const std::string& out, int batch_size, bool fresh) {
  TrainConfig c = TrainEnv::Get().Config(stage, out, fresh);
  c.batch_size = batch_size;
  c.grad_accum = 2;
  c.max_steps = 4;
  c.warmup_steps = 1;
  c.lr = 1e-3;
  // AdamW's first steps move a weight by about lr * sign(gradient) whatever the gradient's size,
  // so a gradient near zero turns the rounding noise of differently ordered sums into updates of
  // lr either way (9.5e-5 on LLM weights on one CPU, under 1e-5 on another). With eps above that
  // noise a tiny gradient makes a tiny update, while a wrong all-reduce would move weights by ~lr.
  c.adam_eps = 1e-4;
  c.seed = 5;
  c.eval_data = c.data;  // evaluated in shards across the ranks
  c.eval_every = c.max_steps;
  return c;
}

// The rank's side, in a child process (LMEYE_DDP_CHILD set).
void RunRank(TrainStage stage) {
  auto env = DistributedEnvFromEnviron();
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_EQ(env->world_size, 2);
  auto group = DataParallelGroup::Connect(*env);
  ASSERT_TRUE(group.ok()) << group.status();
  // The parent emptied the output directory: a rank must not remove what rank 0 writes.
  TrainConfig config = DdpConfig(stage, std::getenv("LMEYE_DDP_CHILD"), kRankBatch, false);
  // The images are encoded in shards (each rank half) and shared through the cache's all-reduce.
  if (IsIpnStage(stage)) config.feature_cache = config.output_dir + ".features.safetensors";
  auto trainer = Trainer::Create(config, nullptr, group->get());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_EQ((*trainer)->global_batch(), 2 * kRankBatch * config.grad_accum);
  ASSERT_TRUE((*trainer)->Run().ok());
}

pid_t SpawnRank(int rank, int port, const std::string& out, const std::string& test) {
  std::vector<std::string> vars = {
      "RANK=" + std::to_string(rank), "WORLD_SIZE=2",
      "MASTER_ADDR=127.0.0.1",        "MASTER_PORT=" + std::to_string(port),
      "LMEYE_DDP_CHILD=" + out,       "LMEYE_TRAIN_TEST_ROOT=" + TrainEnv::Get().root()};
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (std::string& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=DistributedTest." + test;
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  return pid;
}

void CheckTwoRanksEqualOne(TrainStage stage, const std::string& test) {
  if (std::getenv("LMEYE_DDP_CHILD") != nullptr) return RunRank(stage);
  const std::string out = std::string("ddp_") + TrainStageName(stage);
  std::filesystem::remove_all(TrainEnv::Get().root() + "/" + out);
  const std::string cache = TrainEnv::Get().root() + "/" + out + ".features.safetensors";
  std::filesystem::remove(cache);
  const int port = FreePort();
  const pid_t ranks[2] = {SpawnRank(0, port, out, test), SpawnRank(1, port, out, test)};

  auto single = Trainer::Create(DdpConfig(stage, out + "_single", 2 * kRankBatch, true));
  ASSERT_TRUE(single.ok()) << single.status();
  ASSERT_TRUE((*single)->Run().ok());

  for (pid_t pid : ranks) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "rank exit status " << status;
  }
  if (IsIpnStage(stage)) {
    auto cached = SafetensorsFile::Open(cache);  // written by rank 0 with every image
    ASSERT_TRUE(cached.ok()) << cached.status();
    EXPECT_EQ((*cached)->Find("features")->shape[0],
              static_cast<int64_t>(Ipn(**single).data().images.size()));
  }
  // What each run wrote: the adapter, or the trained LLM.
  const std::string written = IsIpnStage(stage) ? "/adapter.safetensors" : "/llm/model.safetensors";
  auto file = SafetensorsFile::Open(TrainEnv::Get().root() + "/" + out + written);
  ASSERT_TRUE(file.ok()) << file.status();
  auto single_file = SafetensorsFile::Open((*single)->config().output_dir + written);
  ASSERT_TRUE(single_file.ok()) << single_file.status();
  ASSERT_EQ((*file)->entries().size(), (*single_file)->entries().size());
  double worst = 0;
  for (const auto& e : (*single_file)->entries()) {
    // The key bias adds q.b_k to every score of a query's row, which softmax ignores: its
    // gradient is zero in exact arithmetic, so AdamW turns rounding noise (which differs with
    // the order of the sums) into updates of about lr either way. Nothing to compare.
    if (absl::EndsWith(e.name, "k_proj.bias")) continue;
    const double diff =
        ((*file)->Load(e.name).value() - (*single_file)->Load(e.name).value()).abs().max()
            .item<double>();
    EXPECT_LE(diff, 1e-5) << e.name;
    worst = std::max(worst, diff);
  }
  ::testing::Test::RecordProperty("max_abs_diff", std::to_string(worst));
  // The evaluation of the last step, split over the ranks, equals the single process's.
  auto last_eval = [](const std::string& dir) {
    std::ifstream in(dir + "/train_log.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return nlohmann::json::parse(last);
  };
  const nlohmann::json ranks_log = last_eval(TrainEnv::Get().root() + "/" + out);
  const nlohmann::json single_log = last_eval((*single)->config().output_dir);
  ASSERT_TRUE(ranks_log.contains("eval_loss") && single_log.contains("eval_loss"));
  EXPECT_NEAR(ranks_log["eval_loss"].get<double>(), single_log["eval_loss"].get<double>(), 1e-5);
  EXPECT_EQ(ranks_log.value("eval_scored", 0), single_log.value("eval_scored", 0));
  std::cerr << "2 ranks x batch " << kRankBatch << " vs 1 x " << 2 * kRankBatch << ": max abs diff "
            << worst << "\n";
}

TEST(DistributedTest, AlignTwoRanksEqualOneWithTwiceTheBatch) {
  CheckTwoRanksEqualOne(TrainStage::kAlign, "AlignTwoRanksEqualOneWithTwiceTheBatch");
}

TEST(DistributedTest, InstructTwoRanksEqualOneWithTwiceTheBatch) {
  CheckTwoRanksEqualOne(TrainStage::kInstruct, "InstructTwoRanksEqualOneWithTwiceTheBatch");
}

TEST(DistributedTest, LmTwoRanksEqualOneWithTwiceTheBatch) {
  CheckTwoRanksEqualOne(TrainStage::kLm, "LmTwoRanksEqualOneWithTwiceTheBatch");
}

TEST(DistributedTest, EnvironmentVariables) {
  if (std::getenv("LMEYE_DDP_CHILD") != nullptr) return;
  unsetenv("WORLD_SIZE");
  unsetenv("RANK");
  auto env = DistributedEnvFromEnviron();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->world_size, 1);
  EXPECT_EQ(env->rank, 0);
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "2", 1);
  EXPECT_EQ(DistributedEnvFromEnviron().status().message(),
            "RANK=\"2\": expected an integer in [0, 1]");
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "3", 1);
  env = DistributedEnvFromEnviron();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->local_rank, 3) << "LOCAL_RANK defaults to RANK";
  setenv("LOCAL_RANK", "1", 1);
  EXPECT_EQ(DistributedEnvFromEnviron()->local_rank, 1);
  setenv("LOCAL_RANK", "-1", 1);
  EXPECT_EQ(DistributedEnvFromEnviron().status().message(),
            "LOCAL_RANK=\"-1\": expected an integer in [0, 3]");
  unsetenv("LOCAL_RANK");
  unsetenv("WORLD_SIZE");
  unsetenv("RANK");
}

TEST(DistributedTest, RankDeviceAndBackendChoice) {
  if (std::getenv("LMEYE_DDP_CHILD") != nullptr) return;
  DistributedEnv env;
  env.world_size = 4;
  env.rank = 5 % 4;
  env.local_rank = 1;
  EXPECT_EQ(RankDevice("cuda", env), "cuda:1") << "torchrun: one process per GPU";
  EXPECT_EQ(RankDevice("cuda:0", env), "cuda:0") << "an explicit index is kept";
  EXPECT_EQ(RankDevice("cpu", env), "cpu");
  env.world_size = 1;
  EXPECT_EQ(RankDevice("cuda", env), "cuda");

  const at::Device cpu(at::kCPU), gpu(at::kCUDA, 0);
  EXPECT_EQ(*ChooseDistributedBackend("auto", cpu), DistributedBackend::kGloo);
  EXPECT_EQ(*ChooseDistributedBackend("gloo", gpu), DistributedBackend::kGloo);
  EXPECT_EQ(*ChooseDistributedBackend("nccl", gpu), DistributedBackend::kNccl);
  EXPECT_EQ(*ChooseDistributedBackend("auto", gpu),
            DistributedBackendBuilt(DistributedBackend::kNccl) ? DistributedBackend::kNccl
                                                                : DistributedBackend::kGloo);
  EXPECT_EQ(ChooseDistributedBackend("nccl", cpu).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseDistributedBackend("mpi", cpu).status().message(),
            "dist_backend \"mpi\": expected auto, gloo or nccl");
}

// A group of one (what a named dist_backend forms for a single process): collectives are the
// identity, and NCCL is refused where it is not built or the device is not a GPU.
TEST(DistributedTest, GroupOfOne) {
  if (std::getenv("LMEYE_DDP_CHILD") != nullptr) return;
  DistributedEnv env;
  env.master_port = FreePort();
  if (!DistributedBackendBuilt(DistributedBackend::kNccl)) {
    auto nccl = DataParallelGroup::Connect(env, DistributedBackend::kNccl, at::Device(at::kCUDA));
    EXPECT_EQ(nccl.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_NE(nccl.status().message().find("no c10d nccl"), std::string::npos);
  }
  auto on_cpu = DataParallelGroup::Connect(env, DistributedBackend::kNccl, at::Device(at::kCPU));
  EXPECT_FALSE(on_cpu.ok());
  if (!DistributedBackendBuilt(DistributedBackend::kGloo)) GTEST_SKIP() << "no c10d Gloo";
  auto group = DataParallelGroup::Connect(env, DistributedBackend::kGloo);
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_EQ((*group)->backend(), DistributedBackend::kGloo);
  at::Tensor a = at::arange(5, at::kFloat), b = at::full({2, 2}, 3.0f);
  ASSERT_TRUE((*group)->AllReduceSum({a, b}).ok());
  EXPECT_TRUE(a.equal(at::arange(5, at::kFloat)));
  EXPECT_TRUE(b.equal(at::full({2, 2}, 3.0f)));
  EXPECT_TRUE((*group)->Barrier().ok());
}

}  // namespace
}  // namespace lmeye
