// Shared fixture data for the trainer tests: a tiny random LMEye model with a real tokenizer
// (written by init-model once per test binary) and small manifests over the fixture photos.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "model/tools/init_model.h"
#include "model/train/ipn_objective.h"
#include "model/train/train_config.h"
#include "model/train/trainer.h"
#include "tests/common/test_data.h"

namespace lmeye::testing {

// Six photos and what is in them (tests/data/images/SOURCES.md).
inline const std::vector<std::pair<std::string, std::string>>& PhotoCaptions() {
  static const auto* captions = new std::vector<std::pair<std::string, std::string>>{
      {"astronaut.jpg", "A smiling astronaut in an orange suit in front of a flag."},
      {"chelsea.png", "A tabby cat looking to the side."},
      {"coffee.jpg", "A cup of coffee on a saucer with a spoon."},
      {"rocket.jpg", "A rocket lifting off from the launch pad into the sky."},
      {"grace_hopper.jpg", "A portrait of a naval officer in uniform."},
      {"raccoon_face.jpg", "The face of a raccoon among green leaves."},
  };
  return *captions;
}

// A TCP port free on the loopback interface now (for a c10d rendezvous).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

inline std::string ImagePath(const std::string& name) { return TestData("images/" + name); }

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Captions of the photos, one JSON line each.
inline std::string CaptionManifest() {
  std::string text;
  for (const auto& [image, caption] : PhotoCaptions()) {
    text += "{\"image\": \"" + ImagePath(image) + "\", \"caption\": \"" + caption + "\"}\n";
  }
  return text;
}

// LLaVA-style conversations about the photos (the first with two answers).
inline std::string ConversationManifest() {
  auto line = [](const std::string& image, const std::string& q, const std::string& a) {
    return "{\"image\": \"" + ImagePath(image) +
           "\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\n" + q +
           "\"}, {\"from\": \"gpt\", \"value\": \"" + a + "\"}]}\n";
  };
  return "{\"image\": \"" + ImagePath("chelsea.png") +
         "\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nWhat animal is "
         "this?\"}, {\"from\": \"gpt\", \"value\": \"A cat.\"}, {\"from\": \"human\", \"value\": "
         "\"What colour is it?\"}, {\"from\": \"gpt\", \"value\": \"Brown and grey.\"}]}\n" +
         line("coffee.jpg", "What is in the cup?", "Coffee.") +
         line("rocket.jpg", "What is happening?", "A rocket is launching.") +
         line("astronaut.jpg", "Who is this?", "An astronaut.") +
         line("raccoon_face.jpg", "What animal is this?", "A raccoon.");
}

// Trainer::Create that fails the test (and returns null) on an error.
inline std::unique_ptr<Trainer> MakeTrainer(const TrainConfig& config) {
  auto trainer = Trainer::Create(config);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return trainer.ok() ? *std::move(trainer) : nullptr;
}

// The IPN objective of a trainer of an align or instruct config.
inline IpnObjective& Ipn(Trainer& trainer) {
  return static_cast<IpnObjective&>(trainer.objective());
}

// Short documents for the lm stage: the captions and a question with its answer.
inline std::string TextManifest() {
  std::string text;
  for (const auto& [image, caption] : PhotoCaptions()) {
    text += "{\"text\": \"" + caption + "\"}\n";
  }
  return text + "{\"text\": \"Question: What animal is this?\\nAnswer: A cat.\"}\n";
}

// A per-process scratch directory with the tiny model and the manifests.
class TrainEnv {
 public:
  static TrainEnv& Get() {
    static TrainEnv* env = new TrainEnv();
    return *env;
  }
  const std::string& root() const { return root_; }
  std::string model() const { return root_ + "/model"; }
  std::string captions() const { return root_ + "/captions.jsonl"; }
  std::string conversations() const { return root_ + "/conversations.jsonl"; }
  std::string text() const { return root_ + "/text.jsonl"; }

  // A config for `stage` on the tiny model, output in directory `out`, emptied when `fresh`.
  TrainConfig Config(TrainStage stage, const std::string& out, bool fresh = true) const {
    TrainConfig c;
    c.model = model();
    c.stage = stage;
    c.data = stage == TrainStage::kInstruct ? conversations()
             : stage == TrainStage::kLm       ? text()
                                              : captions();
    c.output_dir = root_ + "/" + out;
    if (fresh) std::filesystem::remove_all(c.output_dir);
    c.reinit = IsIpnStage(stage);  // backbone stages start from the model's weights
    c.batch_size = 3;
    c.threads = 1;
    return c;
  }

 private:
  TrainEnv() {
    // A child process of a multi-process test shares its parent's directory.
    if (const char* shared = std::getenv("LMEYE_TRAIN_TEST_ROOT"); shared != nullptr) {
      root_ = shared;
      return;
    }
    root_ = ::testing::TempDir() + "/lmeye_train_" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    // Each test process writes a ~30 MB model: take it away at exit.
    std::atexit([] { std::filesystem::remove_all(Get().root_); });
    InitModelOptions options;
    options.tokenizer_dir = TestData("tokenizers/gpt2");
    options.out_dir = model();
    auto report = InitModel(options);
    EXPECT_TRUE(report.ok()) << report.status();
    WriteFile(captions(), CaptionManifest());
    WriteFile(conversations(), ConversationManifest());
    WriteFile(text(), TextManifest());
  }
  std::string root_;
};

}  // namespace lmeye::testing
