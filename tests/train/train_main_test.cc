// `lmeye train` as a process: a YAML config with flags over it, usage errors, and SIGTERM
// writing a checkpoint that --resume continues.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "tests/train/train_test_util.h"

extern char** environ;

namespace lmeye {
namespace {

using ::lmeye::testing::TrainEnv;
using ::lmeye::testing::WriteFile;

// Starts `lmeye train ARGS` with stderr into `log` and `vars` added to the environment; returns
// its pid.
pid_t Start(const std::vector<std::string>& args, const std::string& log,
            std::vector<std::string> vars = {}) {
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (std::string& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<std::string> all = {LMEYE_BINARY, "train"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, LMEYE_BINARY, &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string WriteConfig(const std::string& out) {
  const std::string path = TrainEnv::Get().root() + "/" + out + ".yaml";
  WriteFile(path, "model: " + TrainEnv::Get().model() + "\nstage: align\ndata: " +
                      TrainEnv::Get().captions() + "\noutput_dir: " + TrainEnv::Get().root() + "/" +
                      out + "\nbatch_size: 2\nmax_steps: 100000\nlr: 1e-3\nreinit: true\n" +
                      "threads: 1\n");
  return path;
}

TEST(TrainMainTest, SigtermWritesACheckpointThatResumeContinues) {
  const std::string config = WriteConfig("sigterm");
  const std::string out = TrainEnv::Get().root() + "/sigterm";
  const std::string log = TrainEnv::Get().root() + "/sigterm.log";
  pid_t pid = Start({"--config", config}, log);
  // Wait for a few logged steps.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Read(out + "/train_log.jsonl").find("\"step\":3,") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 143) << Read(log);
  EXPECT_NE(Read(log).find("stop requested at step"), std::string::npos) << Read(log);
  auto ckpt = SafetensorsFile::Open(out + "/checkpoint.safetensors");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t step = std::stoll((*ckpt)->metadata().at("step"));
  EXPECT_GE(step, 3);
  EXPECT_FALSE(std::filesystem::exists(out + "/adapter.safetensors"));  // not finished

  // Flags override the file: two more steps, then the final adapter.
  pid = Start({"--config", config, "--resume", "--max-steps", std::to_string(step + 2)}, log);
  EXPECT_EQ(Wait(pid), 0) << Read(log);
  EXPECT_NE(Read(log).find("resumed from " + out + "/checkpoint.safetensors at step " +
                           std::to_string(step)),
            std::string::npos)
      << Read(log);
  EXPECT_TRUE(std::filesystem::exists(out + "/adapter.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out + "/llm/config.json"));  // a model directory
}

// Kubernetes may deliver SIGTERM to the ranks at different moments: a signal to one rank stops
// every rank after the same step (the stop vote rides on the gradient all-reduce), rank 0 writes
// the checkpoint, and the resumed group finishes.
TEST(TrainMainTest, SigtermToOneRankStopsTheGroupAfterTheSameStep) {
  const std::string config = WriteConfig("ddp_sigterm");
  const std::string out = TrainEnv::Get().root() + "/ddp_sigterm";
  const std::string port = std::to_string(testing::FreePort());
  auto rank = [&](int r, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--config", config, "--batch-size", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Start(args, out + ".rank" + std::to_string(r) + ".log",
                 {"RANK=" + std::to_string(r), "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1",
                  "MASTER_PORT=" + port});
  };
  pid_t ranks[2] = {rank(0, {}), rank(1, {})};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Read(out + "/train_log.jsonl").find("\"step\":3,") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(ranks[1], SIGTERM);
  EXPECT_EQ(Wait(ranks[0]), 143) << Read(out + ".rank0.log");
  EXPECT_EQ(Wait(ranks[1]), 143) << Read(out + ".rank1.log");
  auto ckpt = SafetensorsFile::Open(out + "/checkpoint.safetensors");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const int64_t step = std::stoll((*ckpt)->metadata().at("step"));
  EXPECT_EQ((*ckpt)->metadata().at("global_batch"), "2");
  // Both ranks stopped after that step: rank 0's log says so, rank 1 logs nothing.
  EXPECT_NE(Read(out + ".rank0.log").find("stop requested at step " + std::to_string(step)),
            std::string::npos)
      << Read(out + ".rank0.log");
  EXPECT_EQ(Read(out + ".rank1.log").find("step "), std::string::npos);

  const std::vector<std::string> resume = {"--resume", "--max-steps", std::to_string(step + 2)};
  ranks[0] = rank(0, resume);
  ranks[1] = rank(1, resume);
  EXPECT_EQ(Wait(ranks[0]), 0) << Read(out + ".rank0.log");
  EXPECT_EQ(Wait(ranks[1]), 0) << Read(out + ".rank1.log");
  EXPECT_TRUE(std::filesystem::exists(out + "/adapter.safetensors"));
}

TEST(TrainMainTest, UsageErrorsExitTwoNamingTheKey) {
  const std::string log = TrainEnv::Get().root() + "/usage.log";
  EXPECT_EQ(Wait(Start({"--config", WriteConfig("usage"), "--lr", "fast"}, log)), 2);
  EXPECT_NE(Read(log).find("lr: expected a number, got \"fast\""), std::string::npos) << Read(log);
  EXPECT_EQ(Wait(Start({"--stage", "align"}, log)), 2);
  EXPECT_NE(Read(log).find("model: required"), std::string::npos) << Read(log);
  EXPECT_EQ(Wait(Start({"--config", WriteConfig("usage"), "--batch-size", "0"}, log)), 2);
  EXPECT_NE(Read(log).find("batch_size: must be at least 1"), std::string::npos) << Read(log);
  // A switch takes no value: "--lr" after it is the next flag, not its value.
  EXPECT_EQ(
      Wait(Start({"--config", WriteConfig("usage"), "--group-by-length", "--lr", "fast"}, log)), 2);
  EXPECT_NE(Read(log).find("lr: expected a number, got \"fast\""), std::string::npos) << Read(log);
  EXPECT_EQ(Wait(Start({"--config", WriteConfig("usage"), "--group-by-length=maybe"}, log)), 2);
  EXPECT_NE(Read(log).find("group_by_length: expected true or false, got \"maybe\""),
            std::string::npos)
      << Read(log);
  EXPECT_EQ(Wait(Start({"--config", WriteConfig("usage"), "--max-steps"}, log)), 2);
  EXPECT_NE(Read(log).find("--max-steps needs a value"), std::string::npos) << Read(log);
}

}  // namespace
}  // namespace lmeye
