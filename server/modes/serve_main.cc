#include "server/modes/serve_main.h"

#include <pthread.h>
#include <signal.h>

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
#include "model/common/runtime.h"
#include "model/common/status_macros.h"
#include "model/ipn/prompt.h"
#include "server/edge/auth.h"
#include "server/edge/grpc_server.h"
#include "server/edge/service.h"
#include "server/edge/service_options.h"
#include "server/metrics/metrics.h"
#include "server/metrics/metrics_exposer.h"
#include "server/modes/config.h"
#include "server/modes/default_model.h"
#include "server/runtime/router.h"
#include "server/runtime/worker.h"

namespace lmeye {
namespace {

constexpr char kServeFlags[] =
    "  --ports-file FILE   once serving, write \"<grpc port> <metrics port>\" to FILE (for\n"
    "                      scripts and tests that listen on port 0)\n";

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

WorkerOptions MakeWorkerOptions(const ServerConfig& config, const std::string& model_dir,
                                int index) {
  WorkerOptions w;
  w.model_dir = model_dir;
  w.device = config.device;
  w.dtype = config.dtype;
  w.index = index;
  w.scheduler.max_running = config.scheduler.max_running;
  w.scheduler.max_batched_tokens = config.scheduler.max_batched_tokens;
  w.scheduler.kv_capacity_tokens = config.scheduler.kv_capacity_tokens;
  w.scheduler.max_sequence_positions = config.scheduler.max_sequence_positions;
  w.scheduler.max_queue = config.scheduler.max_queue;
  w.scheduler.image_decode_threads = config.scheduler.image_decode_threads;
  w.scheduler.prefix_cache_entries = config.caches.prefix_cache_entries;
  w.image_limits.max_bytes = config.limits.max_image_bytes;
  w.image_limits.max_pixels = config.limits.max_image_pixels;
  w.image_limits.max_side = config.limits.max_image_side;
  w.image_cache_entries = config.caches.image_cache_entries;
  return w;
}

ServiceOptions MakeServiceOptions(const ServerConfig& config, const WorkerModelInfo& info,
                                  int n_workers) {
  ServiceOptions s;
  s.limits.max_image_bytes = static_cast<uint64_t>(config.limits.max_image_bytes);
  s.limits.max_image_pixels = static_cast<uint64_t>(config.limits.max_image_pixels);
  s.limits.max_new_tokens = config.limits.max_new_tokens;
  s.limits.max_num_beams = config.limits.max_num_beams;
  s.limits.max_message_bytes = static_cast<uint64_t>(config.limits.max_message_bytes);
  const GenerationDefaultsConfig& d = config.defaults;
  s.defaults.sampling.max_new_tokens = d.max_new_tokens;
  s.defaults.sampling.temperature = d.temperature;
  s.defaults.sampling.top_p = d.top_p;
  s.defaults.sampling.top_k = d.top_k;
  s.defaults.sampling.repetition_penalty = d.repetition_penalty;
  s.defaults.num_beams = d.num_beams;
  s.defaults.describe_num_beams = d.describe_num_beams;
  s.defaults.length_penalty = d.length_penalty;
  s.defaults.interaction = d.interaction;
  ServedModelInfo& m = s.model_info;
  m.model_dir = info.model_dir;
  m.vision_backbone = absl::StrCat("clip-vit width=", info.vision_width, " image=", info.image_size,
                                   " (", info.vision_backbone, ")");
  m.text_backbone =
      absl::StrCat("clip-text width=", info.text_width, " (", info.text_backbone, ")");
  m.llm_backbone =
      absl::StrCat(info.llm_family, " width=", info.llm_width, " layers=", info.llm_layers,
                   " vocab=", info.vocab_size, " (", info.llm_backbone, ")");
  m.dtype = info.dtype;
  m.device = info.device;
  m.workers = n_workers;
  m.version = "lmeye-serve 0.1";
  return s;
}

GrpcServerOptions MakeGrpcOptions(const ServerConfig& config) {
  GrpcServerOptions g;
  g.listen = config.listen;
  g.tls_cert_file = config.security.tls_cert_file;
  g.tls_key_file = config.security.tls_key_file;
  g.tls_client_ca_file = config.security.client_ca_file;
  g.max_message_bytes = config.limits.max_message_bytes;
  const KeepaliveConfig& k = config.keepalive;
  g.keepalive_time = absl::Seconds(k.time_seconds);
  g.keepalive_timeout = absl::Seconds(k.timeout_seconds);
  g.min_client_ping_interval = absl::Seconds(k.min_ping_interval_seconds);
  g.permit_keepalive_without_calls = k.permit_without_calls;
  g.max_connection_idle = absl::Seconds(k.max_connection_idle_seconds);
  g.max_connection_age = absl::Seconds(k.max_connection_age_seconds);
  g.max_connection_age_grace = absl::Seconds(k.max_connection_age_grace_seconds);
  g.max_ping_strikes = k.max_ping_strikes;
  return g;
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
          Worker::Create(MakeWorkerOptions(config, model_dir, i), s.metrics.scheduler_observer()));
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
  PromptLimits prompt_limits;
  // A prompt must leave a position to generate in, within what the workers run with (the LLM's
  // position table may be shorter than scheduler.max_sequence_positions).
  prompt_limits.max_prompt_tokens =
      std::min(config.limits.max_prompt_tokens, info.max_sequence_positions - 1);
  prompt_limits.max_choices = config.limits.max_choices;
  LMEYE_ASSIGN_OR_RETURN(
      PromptBuilder prompts,
      PromptBuilder::Create(&s.router->worker(0).tokenizer(), config.prompts, prompt_limits));
  if (!config.security.auth_token_file.empty()) {
    LMEYE_ASSIGN_OR_RETURN(s.auth, BearerTokenAuth::FromFile(config.security.auth_token_file));
  }
  LMEYE_ASSIGN_OR_RETURN(s.service,
                         LmeyeService::Create(s.router.get(), std::move(prompts),
                                              MakeServiceOptions(config, info, config.workers),
                                              s.auth.get(), s.metrics.request_metrics()));
  LMEYE_ASSIGN_OR_RETURN(
      s.server, GrpcServer::Start(
                    MakeGrpcOptions(config),
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
  std::string ports_file;
  std::vector<std::string> config_args;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: lmeye serve [--config FILE.yaml] [flags]\n"
                << ServerConfigUsage() << kServeFlags;
      return 0;
    }
    if (args[i] == "--ports-file" && i + 1 < args.size()) {
      ports_file = args[++i];
    } else if (args[i].rfind("--ports-file=", 0) == 0) {
      ports_file = args[i].substr(13);
    } else {
      config_args.push_back(args[i]);
    }
  }
  absl::StatusOr<ServerConfig> config = LoadServerConfig(config_args);
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
            << "lmeye serve: serving gRPC on " << config->listen << " (port "
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
