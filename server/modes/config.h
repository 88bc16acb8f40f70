// The configuration of `lmeye serve`: one typed struct, loaded from one YAML file (yaml-cpp) and
// overridden by command-line flags (config_flags.h). deploy/lmeye.example.yaml documents every
// option; a test loads that exact file and checks that it mentions every key of
// ServerConfigKeys().
//
// Its sections are the option structs of the parts it configures (the workers, the gRPC server,
// the service's limits and defaults, the prompt builder), so every value has one default, declared
// once where it is used, and the serve main hands the sections over whole. A value two parts
// share has one source here and is copied into the other part when handed over (WorkerOptionsFor,
// ServiceOptionsFor). The YAML keys name what a user sets, not where it is kept:
// caches.prefix_cache_entries lives in worker.scheduler, keepalive.time_seconds in grpc.
//
// Contracts:
// - Every YAML key is known: an unknown key (a typo) is an error that names it, with its line.
// - A value of the wrong type is an error naming the key ("scheduler.max_running: expected an
//   integer, got \"lots\" (line 12)"); Validate() names the first key whose value is out of range.
// - Relative paths in the file (prompts.file, security.*) are relative to the file's directory,
//   so a config and its certificates can move together; relative paths in flags are relative to
//   the working directory.
// The struct is a plain value: load it once in main, then hand copies or parts to whoever needs
// them. Loading does no I/O besides reading the config file, the prompt-template file and
// checking that the security files exist.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/ipn/prompt.h"
#include "model/ipn/prompt_templates.h"
#include "server/edge/grpc_server_options.h"
#include "server/edge/service_options.h"
#include "server/runtime/worker_options.h"

namespace lmeye {

struct ServerConfig {
  std::string model_dir;  // LMEye model directory; empty: the embedded default (default_model.h)
  int workers = 1;        // model replicas, each with one scheduler thread
  int threads = 0;        // intra-op CPU threads per process; 0: every core
  double drain_timeout_seconds = 30;            // on SIGTERM: in-flight work gets this long
  std::string metrics_listen = "0.0.0.0:9090";  // Prometheus /metrics; empty: no metrics server

  // Every worker's options (WorkerOptionsFor adds the model directory and the index): device,
  // dtype, scheduler.*, caches.* and limits.max_image_side. image_limits.max_bytes and
  // max_pixels are not read here: their source is `limits`.
  WorkerOptions worker;
  // listen, security.tls_cert_file / tls_key_file / client_ca_file, limits.max_message_bytes,
  // keepalive.*.
  GrpcServerOptions grpc;
  // limits.max_image_bytes, max_image_pixels, max_new_tokens, max_num_beams.
  // limits.max_message_bytes is not read here: its source is grpc.max_message_bytes.
  ServiceLimits limits;
  // limits.max_prompt_tokens and limits.max_choices. PromptLimits' own default (2048 positions)
  // is the library's; a served prompt must leave room to generate within
  // scheduler.max_sequence_positions (1024), hence 768.
  PromptLimits prompt_limits{/*max_prompt_tokens=*/768};
  // defaults.*: what a request gets for each GenerationParams field it leaves unset.
  GenerationDefaults defaults;
  // security.auth_token_file: bearer tokens, one per line ('#' comments); empty: no auth.
  std::string auth_token_file;
  // prompts.file (a JSON object of template name -> text, as ParsePromptTemplates reads) and the
  // inline prompts.<name> strings, which win over the file. `prompts` is their resolution.
  std::string prompts_file;
  std::map<std::string, std::string> prompt_overrides;
  PromptTemplates prompts;

  // OK, or INVALID_ARGUMENT naming the first bad key ("workers: must be >= 1, got 0").
  // Checks ranges, formats (listen addresses, device, dtype), cross-field rules (TLS cert and key
  // together; defaults within limits) and that the security files exist.
  absl::Status Validate() const;

  // Worker `index`'s options: `worker` with the model directory, the index and the image limits
  // from `limits`.
  WorkerOptions WorkerOptionsFor(const std::string& model_dir, int index) const;
  // The service's options: `limits` (with grpc's max_message_bytes, which it reports),
  // `defaults`, and what GetModelInfo says about the served model.
  ServiceOptions ServiceOptionsFor(ServedModelInfo model_info) const;
};

// Every key the YAML file accepts, dotted ("scheduler.max_running"), in documentation order.
std::vector<std::string> ServerConfigKeys();

// Parses YAML text into a config (defaults for what it omits), without validating. `base_dir`
// resolves relative paths; `source` names the text in errors (the file name).
absl::StatusOr<ServerConfig> ParseServerConfigYaml(const std::string& yaml,
                                                   const std::string& base_dir = "",
                                                   const std::string& source = "config");

// Reads and parses a YAML file, without validating.
absl::StatusOr<ServerConfig> LoadServerConfigFile(const std::string& path);

// Sets one option from its text form, as a flag would: `key` is a dotted key of
// ServerConfigKeys(). INVALID_ARGUMENT naming the key on a bad value or unknown key.
absl::Status SetServerConfigOption(ServerConfig* config, const std::string& key,
                                   const std::string& value);

// Reads prompts_file (when set), applies prompt_overrides and fills `prompts`.
absl::Status ResolvePromptTemplates(ServerConfig* config);

// The templates the config names (prompts.file, then the inline prompts.<name>), without
// defaults: for a model whose layout has defaults of its own (the released v0's prompts).
absl::StatusOr<std::map<std::string, std::string>> PromptTemplateOverrides(
    const ServerConfig& config);

// The text form of an option's value, as the file would spell it ("0.0.0.0:50051", "30");
// `key` is a dotted key of ServerConfigKeys() other than the prompt templates. For help texts.
std::string ServerConfigOptionText(const ServerConfig& config, const std::string& key);

}  // namespace lmeye
