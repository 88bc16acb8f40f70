// The configuration of `lmeye serve`: one typed struct, loaded from one YAML file (yaml-cpp) and
// overridden by command-line flags. deploy/lmeye.example.yaml documents every option; a test
// loads that exact file and checks that it mentions every key of ServerConfigKeys().
//
// Contracts:
// - Every YAML key is known: an unknown key (a typo) is an error that names it, with its line.
// - A value of the wrong type is an error naming the key ("scheduler.max_running: expected an
//   integer, got \"lots\" (line 12)"); Validate() names the first key whose value is out of range.
// - Flags win over the file, whatever their order on the command line.
// - Relative paths in the file (prompts.file, security.*) are relative to the file's directory,
//   so a config and its certificates can move together; relative paths in flags are relative to
//   the working directory.
// The struct is a plain value: load it once in main, then hand copies or parts to whoever needs
// them. Loading does no I/O besides reading the config file, the prompt-template file and
// checking that the security files exist.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/ipn/prompt_templates.h"

namespace lmeye {

// Per-worker budgets of the continuous-batching scheduler (docs/DESIGN.md section 3).
// The defaults equal SchedulerOptions' (server/scheduler_options.h), which these fill.
struct SchedulerConfig {
  int max_running = 16;           // sequences in the running batch at once (one KV slot each)
  int max_batched_tokens = 2048;  // LLM positions one batched first pass may compute
  // KV positions all admitted requests may reserve together; 0: max_running *
  // max_sequence_positions (the whole cache).
  int64_t kv_capacity_tokens = 0;
  int max_sequence_positions = 1024;  // prompt + generated positions of one sequence
  int max_queue = 256;                // requests waiting for admission; more: RESOURCE_EXHAUSTED
  int image_decode_threads = 2;       // threads decoding and preprocessing images, per worker
};

struct CacheConfig {
  int image_cache_entries = 256;  // encoded images kept per worker (keyed by image hash); 0: off
  int prefix_cache_entries = 64;  // prompt prefixes whose KV is kept per worker; 0: off
};

// Input limits enforced at the gRPC edge; over a limit: INVALID_ARGUMENT (or RESOURCE_EXHAUSTED
// for prompt length) naming the field.
struct LimitsConfig {
  int64_t max_image_bytes = 20 << 20;     // encoded image size
  int64_t max_image_pixels = 50'000'000;  // width * height after decoding headers
  int max_image_side = 32768;             // the larger of width and height, from the header
  int max_prompt_tokens = 768;            // tokenized prompt, image and slot included
  int max_new_tokens = 1024;              // the most a request may ask for
  int max_num_beams = 16;                 // the most beams a request may ask for
  int64_t max_message_bytes = 32 << 20;   // gRPC receive/send message size
  int max_choices = 32;                   // AnswerVQA choices
};

// What a request gets for each GenerationParams field it leaves unset.
// (Named apart from service_options.h's GenerationDefaults, which it fills.)
struct GenerationDefaultsConfig {
  int max_new_tokens = 128;
  double temperature = 0.0;  // greedy
  double top_p = 1.0;
  int top_k = 0;
  double repetition_penalty = 1.0;
  double length_penalty = 1.0;
  int num_beams = 1;           // Chat and AnswerVQA; > 1: beam search
  int describe_num_beams = 5;  // the paper's beam width for detailed descriptions
  bool interaction = true;     // false: IPN* by default
};

// Security. All empty: plaintext, no authentication (health and reflection are always open).
struct SecurityConfig {
  std::string auth_token_file;  // bearer tokens, one per line ('#' comments); empty: no auth
  std::string tls_cert_file;    // PEM server certificate chain; with tls_key_file enables TLS
  std::string tls_key_file;     // PEM private key of tls_cert_file
  std::string client_ca_file;   // PEM CA bundle: clients must present a certificate it signed
};

// gRPC keepalive and connection-lifetime knobs, in seconds (GRPC_ARG_* in parentheses).
struct KeepaliveConfig {
  double time_seconds = 60;               // server pings an idle connection (KEEPALIVE_TIME_MS)
  double timeout_seconds = 20;            // ping ack wait before closing (KEEPALIVE_TIMEOUT_MS)
  bool permit_without_calls = false;      // allow client pings with no call in flight
  double min_ping_interval_seconds = 10;  // HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS
  int max_ping_strikes = 2;  // bad pings before GOAWAY (HTTP2_MAX_PING_STRIKES); 0: any
  double max_connection_idle_seconds = 0;       // MAX_CONNECTION_IDLE_MS; 0: unlimited
  double max_connection_age_seconds = 0;        // MAX_CONNECTION_AGE_MS; 0: unlimited
  double max_connection_age_grace_seconds = 0;  // MAX_CONNECTION_AGE_GRACE_MS; 0: unlimited
};

struct ServerConfig {
  std::string model_dir;                 // LMEye model directory; empty: the embedded default
  std::string listen = "0.0.0.0:50051";  // gRPC address, HOST:PORT (port 0: any free port)
  std::string metrics_listen = "0.0.0.0:9090";  // Prometheus /metrics; empty: no metrics server
  int workers = 1;                              // model replicas, each with one scheduler thread
  std::string device = "cpu";                   // "cpu", "cuda" or "cuda:N"
  std::string dtype = "fp32";                   // "fp32", "bf16", "fp16"
  int threads = 0;                              // intra-op CPU threads per process; 0: every core
  double drain_timeout_seconds = 30;            // on SIGTERM: in-flight work gets this long
  SchedulerConfig scheduler;
  CacheConfig caches;
  LimitsConfig limits;
  GenerationDefaultsConfig defaults;
  SecurityConfig security;
  KeepaliveConfig keepalive;
  // prompts.file (a JSON object of template name -> text, as ParsePromptTemplates reads) and the
  // inline prompts.<name> strings, which win over the file. `prompts` is their resolution.
  std::string prompts_file;
  std::map<std::string, std::string> prompt_overrides;
  PromptTemplates prompts;

  // OK, or INVALID_ARGUMENT naming the first bad key ("workers: must be >= 1, got 0").
  // Checks ranges, formats (listen addresses, device, dtype), cross-field rules (TLS cert and key
  // together; defaults within limits) and that the security files exist.
  absl::Status Validate() const;
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

// The `lmeye serve` flags (`--flag VALUE` or `--flag=VALUE`):
//   --config FILE, --model DIR, --listen HOST:PORT, --metrics-listen HOST:PORT, --workers N,
//   --device cpu|cuda:N, --dtype fp32|bf16|fp16, --threads N, and --set KEY=VALUE for any key of
//   the file (repeatable).
// The file is loaded first, then the flags are applied in order, then prompts are resolved and
// the result validated. INVALID_ARGUMENT on an unknown flag, a missing value, or a bad value
// (naming the flag or the key). `args` excludes the program and mode names. --help is not
// handled here: the caller prints ServerConfigUsage().
absl::StatusOr<ServerConfig> LoadServerConfig(const std::vector<std::string>& args);

// The flag help for `lmeye serve --help`, after the caller's "usage:" line.
const char* ServerConfigUsage();

}  // namespace lmeye
