#include "server/modes/train_main.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/common/device.h"
#include "model/common/flags.h"
#include "model/common/runtime.h"
#include "model/train/distributed.h"
#include "model/train/matching_data.h"
#include "model/train/train_config.h"
#include "model/train/trainer.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye train [--config train.yaml] [--KEY VALUE ...] [--resume] [--group-by-length]\n"
    "       lmeye train make-matching --help   (image-text matching data from captions)\n"
    "  Trains one part of an LMEye model directory per run (docs/DESIGN.md 2), the rest frozen:\n"
    "    align     image-caption pairs; trains ipn.img_token and ipn.align\n"
    "    instruct  LLaVA conversations (and captions as detailed descriptions); the two-pass\n"
    "              graph; trains ipn.imgd_token, ipn.request, ipn.decompose, ipn.transmit\n"
    "    clip      image-caption pairs; both CLIP towers, contrastive (CLIP's loss)\n"
    "    lm        text ({\"text\"} lines, or captions); the LLM, next-token prediction\n"
    "  (clip and lm train small backbones, e.g. from `lmeye init-model` random weights.)\n"
    "  A lingcloud-v0 model directory (adapter.json) trains the release's parameters through\n"
    "  the same stages: align = phase 1 (embedding_img, imgLinear), instruct = phase 2\n"
    "  (embedding_imgd, promptMlp, llm2clip, imgdLinear), over the release's prompts.\n"
    "  Flags override the file, whatever their order; each config key is a flag (dashes or\n"
    "  underscores). Required: model, stage, data, output_dir. output_dir receives\n"
    "  checkpoint.safetensors, train_log.jsonl and, at the end, a model directory: the trained\n"
    "  part (adapter.safetensors, or the backbone in Hugging Face layout, in save_dtype) with\n"
    "  links to the untouched parts (serve it: lmeye serve --model OUTPUT_DIR; train the next\n"
    "  stage with model: OUTPUT_DIR).\n"
    "  SIGINT/SIGTERM write a checkpoint and exit (130/143); --resume continues it exactly.\n"
    "  Data parallel: torchrun's RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (c10d Gloo); each\n"
    "  process takes batch_size examples per micro-batch; rank 0 logs and writes.\n";

constexpr char kMatchingAbout[] =
    "usage: lmeye train make-matching --captions CAPTIONS.jsonl --out OUT.jsonl [flags]\n"
    "  Writes the paper's image-text matching data as a conversation manifest for the instruct\n"
    "  stage: per caption a True/False question and a four-choice question, the wrong captions\n"
    "  taken from other images.\n";

// The config keys that are switches: `--resume` alone means true.
bool IsSwitchKey(const std::string& key) {
  return key == "resume" || key == "reinit" || key == "group_by_length";
}

// A switch that clears `target`: --no-true-false.
Flag ClearFlag(std::string name, bool* target, std::string help) {
  return CustomFlag(std::move(name), FlagKind::kBool, "", std::move(help),
                    [target](const std::string&) {
                      *target = false;
                      return absl::OkStatus();
                    });
}

int MakeMatchingMain(const std::vector<std::string>& args) {
  std::string captions, out;
  MatchingOptions options;
  const std::vector<Flag> flags = {
      StringFlag("captions", &captions, "CAPTIONS.jsonl", "caption manifest").Required(),
      StringFlag("out", &out, "OUT.jsonl", "the conversation manifest to write").Required(),
      IntFlag("seed", &options.seed, "N", "which wrong captions are drawn"),
      ClearFlag("no-true-false", &options.true_false, "no True/False questions"),
      ClearFlag("no-four-choice", &options.four_choice, "no four-choice questions"),
  };
  if (std::optional<int> exit =
          ParseModeFlags("train make-matching", kMatchingAbout, flags, args)) {
    return *exit;
  }
  absl::StatusOr<Manifest> manifest = ReadManifest(captions);
  absl::StatusOr<std::vector<ManifestRecord>> records =
      manifest.ok() ? BuildMatchingRecords(*manifest, options)
                    : absl::StatusOr<std::vector<ManifestRecord>>(manifest.status());
  absl::Status s = records.ok() ? WriteManifest(out, *records) : records.status();
  if (!s.ok()) {
    std::cerr << "lmeye train make-matching: " << s.message() << "\n";
    return 1;
  }
  for (const ManifestIssue& issue : manifest->issues) {
    std::cerr << "lmeye train make-matching: skipped " << manifest->IssueText(issue) << "\n";
  }
  std::cerr << "lmeye train make-matching: " << records->size() << " questions from "
            << manifest->records.size() << " captions -> " << out << "\n";
  return 0;
}

// The running trainer, for the signal handler (RequestStop only stores an atomic flag).
std::atomic<Trainer*> g_trainer{nullptr};
std::atomic<int> g_signal{0};

void OnSignal(int sig) {
  g_signal.store(sig);
  Trainer* trainer = g_trainer.load();
  if (trainer != nullptr) trainer->RequestStop();
}

}  // namespace

int TrainMain(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "make-matching") {
    return MakeMatchingMain(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  // Each config key is a flag. Values are kept as text and applied after the file is loaded,
  // so that flags win wherever --config stands; the config's own parser checks them.
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::vector<Flag> flags = {StringFlag("config", &config_path, "FILE", "YAML config file")};
  for (const std::string& key : TrainConfigKeys()) {
    auto keep = [&overrides, key](const std::string& value) {
      overrides.emplace_back(key, value);
      return absl::OkStatus();
    };
    const bool is_switch = IsSwitchKey(key);
    Flag flag = CustomFlag(absl::StrReplaceAll(key, {{"_", "-"}}),
                           is_switch ? FlagKind::kBool : FlagKind::kString, "VALUE",
                           absl::StrCat("config key ", key), keep);
    flag.bool_takes_value = is_switch;  // --resume=false
    flags.push_back(std::move(flag));
  }
  if (std::optional<int> exit = ParseModeFlags("train", kAbout, flags, args)) return *exit;
  TrainConfig config;
  if (!config_path.empty()) {
    absl::Status s = LoadTrainConfigYaml(config_path, &config);
    if (!s.ok()) {
      std::cerr << "lmeye train: " << s.message() << "\n";
      return 2;
    }
  }
  for (const auto& [key, value] : overrides) {  // flags win, whatever their order
    absl::Status s = SetTrainConfigValue(key, value, "", &config);
    if (!s.ok()) return ModeUsageError("train", absl::StrCat("--", s.message()));
  }
  if (absl::Status s = config.Validate(); !s.ok()) {
    return ModeUsageError("train", std::string(s.message()));
  }
  if (config.threads > 0) ConfigureTorchThreads(config.threads);

  // Before the (long) load, so an early Ctrl-C still stops at the first step boundary.
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESETHAND;  // a second signal kills at once
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  // torchrun's variables; WORLD_SIZE > 1 (or a named dist_backend) joins a c10d group first,
  // each process on its own GPU when the device is a bare "cuda".
  absl::StatusOr<DistributedEnv> env = DistributedEnvFromEnviron();
  if (!env.ok()) {
    std::cerr << "lmeye train: " << env.status().message() << "\n";
    return 2;
  }
  config.device = RankDevice(config.device, *env);
  std::unique_ptr<DataParallelGroup> group;
  if (env->world_size > 1 || config.dist_backend != "auto") {
    absl::StatusOr<at::Device> device = ParseDevice(config.device);
    absl::StatusOr<DistributedBackend> backend =
        device.ok() ? ChooseDistributedBackend(config.dist_backend, *device)
                    : absl::StatusOr<DistributedBackend>(device.status());
    if (!backend.ok()) {
      std::cerr << "lmeye train: " << backend.status().message() << "\n";
      return 2;
    }
    auto joined = DataParallelGroup::Connect(*env, *backend, *device);
    if (!joined.ok()) {
      std::cerr << "lmeye train: " << joined.status().message() << "\n";
      return 1;
    }
    group = *std::move(joined);
    if (env->rank == 0) {
      std::cerr << "lmeye train: " << env->world_size << " process(es), c10d "
                << DistributedBackendName(*backend) << ", rank 0 on " << config.device << "\n";
    }
  }
  auto trainer = Trainer::Create(config, &std::cerr, group.get());
  if (!trainer.ok()) {
    std::cerr << "lmeye train: " << trainer.status().message() << "\n";
    return 1;
  }
  (*trainer)->set_progress_bar(isatty(STDERR_FILENO) != 0);
  g_trainer.store(trainer->get());
  if (g_signal.load() != 0) (*trainer)->RequestStop();
  absl::Status s = (*trainer)->Run();
  g_trainer.store(nullptr);
  if (!s.ok()) {
    std::cerr << "lmeye train: " << s.message() << "\n";
    return 1;
  }
  if ((*trainer)->stopped()) return 128 + (g_signal.load() != 0 ? g_signal.load() : SIGTERM);
  return 0;
}

}  // namespace lmeye
