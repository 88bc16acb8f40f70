#include "server/modes/serve_main.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "model/common/file_util.h"
#include "model/common/flags.h"
#include "model/common/runtime.h"
#include "model/common/status_macros.h"
#include "model/ipn/marked_prompt.h"
#include "model/ipn/prompt.h"
#include "server/edge/auth.h"
#include "server/edge/grpc_server.h"
#include "server/edge/service.h"
#include "server/edge/service_options.h"
#include "server/metrics/metrics.h"
#include "server/metrics/metrics_exposer.h"
#include "server/modes/config.h"
#include "server/modes/config_flags.h"
#include "server/modes/default_model.h"
#include "server/modes/mode_flags.h"
#include "server/runtime/router.h"
#include "server/runtime/worker.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye serve [--config FILE.yaml] [flags]\n"
    "  Serves the Lmeye gRPC API (with health and reflection) and Prometheus metrics from N\n"
    "  workers; SIGTERM or SIGINT drains. Flags win over the file, whatever their order.\n";

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// What GetModelInfo says about the model, from what worker 0 loaded.
ServedModelInfo DescribeModel(const WorkerModelInfo& info, int n_workers) {
  ServedModelInfo m;
  m.model_dir = info.model_dir;
  // v0.1's image side is BLIP-2's ViT and Q-Former; its width is the Q-Former's.
  const bool blip2 = info.adapter_layout == "lingcloud-v0.1";
  m.vision_backbone = absl::StrCat(blip2 ? "blip2-vit+qformer" : "clip-vit", " width=",
                                   info.vision_width, " image=", info.image_size, " (",
                                   info.vision_backbone, ")");
  m.text_backbone =
      absl::StrCat("clip-text width=", info.text_width, " (", info.text_backbone, ")");
  m.llm_backbone =
      absl::StrCat(info.llm_family, " width=", info.llm_width, " layers=", info.llm_layers,
                   " vocab=", info.vocab_size, " (", info.llm_backbone, ")");
  m.dtype = info.dtype;
  m.device = info.device;
  m.workers = n_workers;
  m.version = "lmeye-serve 0.1";
  m.adapter_layout = info.adapter_layout;
  return m;
}

// Everything a running server holds, declared in the order it must be built; members are
// destroyed in reverse: the gRPC server stops before the service it calls, the service before
// the router (its workers, whose tokenizer the service builds prompts with), the router before
// the metrics its workers report to.
struct Serving {
  Metrics metrics;
  std::unique_ptr<MetricsExposer> exposer;
  std::unique_ptr<Router> router;
  std::unique_ptr<BearerTokenAuth> auth;
  std::unique_ptr<LmeyeService> service;
  std::unique_ptr<GrpcServer> server;
};

// The service options, with the model layout's own QA setting where the config leaves it to the
// model (defaults.vqa_num_beams 0): the released models answer with beam 5 (v0: LLMEye_test.py;
// v0.1: app_demo.py's default beam count, without its sampling).
ServiceOptions ServiceOptionsForModel(const ServerConfig& config, const WorkerModelInfo& info) {
  ServiceOptions options = config.ServiceOptionsFor(DescribeModel(info, config.workers));
  GenerationDefaults& d = options.defaults;
  const bool released =
      info.adapter_layout == "lingcloud-v0" || info.adapter_layout == "lingcloud-v0.1";
  if (d.vqa_num_beams == 0 && released && d.sampling.greedy()) {
    d.vqa_num_beams = std::min(5, config.limits.max_num_beams);
  }
  return options;
}

absl::Status Start(const ServerConfig& config, Serving& s) {
  std::string model_dir = config.model_dir;
  if (model_dir.empty()) {
    LMEYE_ASSIGN_OR_RETURN(model_dir, EnsureDefaultModel());
  }
  if (!config.metrics_listen.empty()) {
    LMEYE_ASSIGN_OR_RETURN(s.exposer, MetricsExposer::Start(config.metrics_listen, s.metrics));
  }
  std::vector<std::unique_ptr<Worker>> workers;
  auto load = [&]() -> absl::Status {
    for (int i = 0; i < config.workers; ++i) {
      const absl::Time start = absl::Now();
      LMEYE_ASSIGN_OR_RETURN(
          std::unique_ptr<Worker> worker,
          Worker::Create(config.WorkerOptionsFor(model_dir, i), s.metrics.scheduler_observer()));
      std::cerr << "lmeye serve: worker " << i << " loaded " << model_dir << " on "
                << worker->info().device << " (" << worker->info().dtype << ") in "
                << absl::FormatDuration(absl::Now() - start) << "\n";
      workers.push_back(std::move(worker));
    }
    return absl::OkStatus();
  };
  // Loading runs its parallel ops on a thread that then exits, taking its OpenMP team with it:
  // left on the main thread, that idle team would count against the cores and stop the
  // schedulers' teams spinning between ops (runtime.h KeepAtenOpsOnThisThread).
  absl::Status loaded;
  std::thread loader([&] { loaded = load(); });
  loader.join();
  LMEYE_RETURN_IF_ERROR(loaded);
  s.router = std::make_unique<Router>(std::move(workers));
  const WorkerModelInfo& info = s.router->worker(0).info();
  PromptLimits prompt_limits = config.prompt_limits;
  // A prompt must leave a position to generate in, within what the workers run with (the LLM's
  // position table may be shorter than scheduler.max_sequence_positions).
  prompt_limits.max_prompt_tokens =
      std::min(prompt_limits.max_prompt_tokens, info.max_sequence_positions - 1);
  // A layout whose templates carry the markers (the released v0) starts from its own prompts;
  // the config's templates apply on top.
  PromptTemplates templates = config.prompts;
  if (info.marked_prompts.has_value()) {
    LMEYE_ASSIGN_OR_RETURN(auto overrides, PromptTemplateOverrides(config));
    const int n_slots = info.marked_prompts->n_slots;
    LMEYE_ASSIGN_OR_RETURN(
        templates, ParsePromptTemplates(overrides, info.adapter_layout == "lingcloud-v0.1"
                                                       ? LingcloudV01PromptTemplates(n_slots)
                                                       : LingcloudV0PromptTemplates(n_slots)));
  }
  LMEYE_ASSIGN_OR_RETURN(PromptBuilder prompts,
                         PromptBuilder::Create(&s.router->worker(0).tokenizer(), templates,
                                               prompt_limits, info.marked_prompts));
  if (!config.auth_token_file.empty()) {
    LMEYE_ASSIGN_OR_RETURN(s.auth, BearerTokenAuth::FromFile(config.auth_token_file));
  }
  LMEYE_ASSIGN_OR_RETURN(
      s.service,
      LmeyeService::Create(s.router.get(), std::move(prompts), ServiceOptionsForModel(config, info),
                           s.auth.get(), s.metrics.request_metrics()));
  LMEYE_ASSIGN_OR_RETURN(
      s.server, GrpcServer::Start(
                    config.grpc,
                    {HostedService{s.service.get(), std::string(v1::Lmeye::service_full_name())}}));
  s.server->SetServing(true);
  return absl::OkStatus();
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int ServeMain(const std::vector<std::string>& args) {
  ServerConfigFlags config_flags;
  std::string ports_file;
  std::vector<Flag> flags = ServerConfigFlagTable(&config_flags);
  flags.push_back(StringFlag("ports-file", &ports_file, "FILE",
                             "once serving, write \"<grpc port> <metrics port>\" to FILE (for "
                             "scripts and tests that listen on port 0)"));
  if (std::optional<int> exit = ParseModeFlags("serve", kAbout, flags, args)) return *exit;
  absl::StatusOr<ServerConfig> config = BuildServerConfig(config_flags);
  if (!config.ok()) {
    std::cerr << "lmeye serve: " << config.status().message() << "\n";
    return 2;
  }
  ConfigureTorchThreads(config->threads);

  Serving serving;
  if (absl::Status st = Start(*config, serving); !st.ok()) {
    std::cerr << "lmeye serve: " << st << "\n";
    return 1;
  }
  const int metrics_port = serving.exposer ? serving.exposer->port() : 0;
  std::cerr << "lmeye serve: " << RuntimeSummary() << "\n"
            << "lmeye serve: serving gRPC on " << config->grpc.listen << " (port "
            << serving.server->port() << ")"
            << (serving.exposer ? absl::StrCat(", metrics on port ", metrics_port) : "")
            << "; SIGTERM drains\n";
  if (!ports_file.empty()) {
    // Whole or not at all: a reader polling for the file never sees half of it.
    const absl::Status written = WriteFileAtomically(
        ports_file, absl::StrCat(serving.server->port(), " ", metrics_port, "\n"));
    if (!written.ok()) std::cerr << "lmeye serve: --ports-file: " << written << "\n";
  }

  sigset_t set = TerminationSignals();
  int signal_number = 0;
  sigwait(&set, &signal_number);
  std::cerr << "lmeye serve: signal " << signal_number << ": draining (up to "
            << config->drain_timeout_seconds << " s)\n";
  // Health first, so load balancers stop sending; then the workers refuse new requests and
  // finish what they hold while the gRPC server still delivers the results; then the server.
  serving.server->SetServing(false);
  serving.router->Drain(absl::Now() + absl::Seconds(config->drain_timeout_seconds));
  serving.server->Shutdown(absl::Seconds(5));
  std::cerr << "lmeye serve: drained, exiting\n";
  return 0;
}

}  // namespace lmeye
