#include "server/modes/config.h"

#include <yaml-cpp/yaml.h>

#include <climits>
#include <cmath>
#include <set>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// ---------------------------------------------------------------------------------------------
// The option table: one row per scalar key, so the YAML reader, the flags and the "is every key
// documented" test share one list. Prompt templates are the exception (a map section whose keys
// come from PromptTemplateFields()).

// kSeconds: an absl::Duration written as a number of seconds (the keepalive knobs).
enum class OptionType { kInt, kInt64, kUint64, kDouble, kSeconds, kBool, kString };

template <typename T>
constexpr OptionType TypeOf() {
  if constexpr (std::is_same_v<T, int>) {
    return OptionType::kInt;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return OptionType::kInt64;
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return OptionType::kUint64;
  } else if constexpr (std::is_same_v<T, absl::Duration>) {
    return OptionType::kSeconds;
  } else if constexpr (std::is_same_v<T, double>) {
    return OptionType::kDouble;
  } else if constexpr (std::is_same_v<T, bool>) {
    return OptionType::kBool;
  } else {
    static_assert(std::is_same_v<T, std::string>, "unsupported option type");
    return OptionType::kString;
  }
}

struct Option {
  const char* key;
  OptionType type;
  void* (*field)(ServerConfig&);
  bool is_path;  // relative values are resolved against the config file's directory
};

// The member's type picks the parser, so a row cannot disagree with the struct.
#define LMEYE_OPTION(key, member, is_path)                                       \
  Option {                                                                       \
    key, TypeOf<std::decay_t<decltype(std::declval<ServerConfig&>().member)>>(), \
        [](ServerConfig& c) -> void* { return &c.member; }, is_path              \
  }

const std::vector<Option>& Options() {
  // Key -> where the value lives. The sections are the parts' own option structs, so a key's
  // place is where its part reads it (config.h), not the section its YAML key names.
  static const auto* options = new std::vector<Option>{
      LMEYE_OPTION("model_dir", model_dir, true),
      LMEYE_OPTION("listen", grpc.listen, false),
      LMEYE_OPTION("metrics_listen", metrics_listen, false),
      LMEYE_OPTION("workers", workers, false),
      LMEYE_OPTION("device", worker.device, false),
      LMEYE_OPTION("dtype", worker.dtype, false),
      LMEYE_OPTION("threads", threads, false),
      LMEYE_OPTION("drain_timeout_seconds", drain_timeout_seconds, false),
      LMEYE_OPTION("scheduler.max_running", worker.scheduler.max_running, false),
      LMEYE_OPTION("scheduler.max_batched_tokens", worker.scheduler.max_batched_tokens, false),
      LMEYE_OPTION("scheduler.kv_capacity_tokens", worker.scheduler.kv_capacity_tokens, false),
      LMEYE_OPTION("scheduler.max_sequence_positions", worker.scheduler.max_sequence_positions,
                   false),
      LMEYE_OPTION("scheduler.max_queue", worker.scheduler.max_queue, false),
      LMEYE_OPTION("scheduler.image_decode_threads", worker.scheduler.image_decode_threads, false),
      LMEYE_OPTION("caches.image_cache_entries", worker.image_cache_entries, false),
      LMEYE_OPTION("caches.prefix_cache_entries", worker.scheduler.prefix_cache_entries, false),
      LMEYE_OPTION("limits.max_image_bytes", limits.max_image_bytes, false),
      LMEYE_OPTION("limits.max_image_pixels", limits.max_image_pixels, false),
      LMEYE_OPTION("limits.max_image_side", worker.image_limits.max_side, false),
      LMEYE_OPTION("limits.max_prompt_tokens", prompt_limits.max_prompt_tokens, false),
      LMEYE_OPTION("limits.max_new_tokens", limits.max_new_tokens, false),
      LMEYE_OPTION("limits.max_num_beams", limits.max_num_beams, false),
      LMEYE_OPTION("limits.max_message_bytes", grpc.max_message_bytes, false),
      LMEYE_OPTION("limits.max_choices", prompt_limits.max_choices, false),
      LMEYE_OPTION("defaults.max_new_tokens", defaults.sampling.max_new_tokens, false),
      LMEYE_OPTION("defaults.temperature", defaults.sampling.temperature, false),
      LMEYE_OPTION("defaults.top_p", defaults.sampling.top_p, false),
      LMEYE_OPTION("defaults.top_k", defaults.sampling.top_k, false),
      LMEYE_OPTION("defaults.repetition_penalty", defaults.sampling.repetition_penalty, false),
      LMEYE_OPTION("defaults.length_penalty", defaults.length_penalty, false),
      LMEYE_OPTION("defaults.num_beams", defaults.num_beams, false),
      LMEYE_OPTION("defaults.describe_num_beams", defaults.describe_num_beams, false),
      LMEYE_OPTION("defaults.vqa_num_beams", defaults.vqa_num_beams, false),
      LMEYE_OPTION("defaults.interaction", defaults.interaction, false),
      LMEYE_OPTION("security.auth_token_file", auth_token_file, true),
      LMEYE_OPTION("security.tls_cert_file", grpc.tls_cert_file, true),
      LMEYE_OPTION("security.tls_key_file", grpc.tls_key_file, true),
      LMEYE_OPTION("security.client_ca_file", grpc.tls_client_ca_file, true),
      LMEYE_OPTION("keepalive.time_seconds", grpc.keepalive_time, false),
      LMEYE_OPTION("keepalive.timeout_seconds", grpc.keepalive_timeout, false),
      LMEYE_OPTION("keepalive.permit_without_calls", grpc.permit_keepalive_without_calls, false),
      LMEYE_OPTION("keepalive.min_ping_interval_seconds", grpc.min_client_ping_interval, false),
      LMEYE_OPTION("keepalive.max_ping_strikes", grpc.max_ping_strikes, false),
      LMEYE_OPTION("keepalive.max_connection_idle_seconds", grpc.max_connection_idle, false),
      LMEYE_OPTION("keepalive.max_connection_age_seconds", grpc.max_connection_age, false),
      LMEYE_OPTION("keepalive.max_connection_age_grace_seconds", grpc.max_connection_age_grace,
                   false),
      LMEYE_OPTION("prompts.file", prompts_file, true),
  };
  return *options;
}

#undef LMEYE_OPTION

constexpr char kPromptsSection[] = "prompts";

const Option* FindOption(const std::string& key) {
  for (const Option& option : Options()) {
    if (key == option.key) return &option;
  }
  return nullptr;
}

bool IsPromptTemplateKey(const std::string& key) {
  return absl::StartsWith(key, "prompts.") &&
         PromptTemplateFields().count(key.substr(sizeof(kPromptsSection))) > 0;
}

// "scheduler" for "scheduler.max_running"; sections are the dotted prefixes of the keys.
bool IsSection(const std::string& name) {
  const std::string prefix = name + ".";
  for (const std::string& key : ServerConfigKeys()) {
    if (absl::StartsWith(key, prefix)) return true;
  }
  return false;
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || base_dir.empty() || path[0] == '/') return path;
  return base_dir + "/" + path;
}

// `where` is appended to errors: " (config.yaml line 3)" for the file, empty for flags.
absl::Status SetOption(ServerConfig* config, const std::string& key, const std::string& value,
                       bool is_null, const std::string& base_dir, const std::string& where) {
  if (IsPromptTemplateKey(key)) {
    if (is_null) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": missing value", where));
    }
    config->prompt_overrides[key.substr(sizeof(kPromptsSection))] = value;
    return absl::OkStatus();
  }
  const Option* option = FindOption(key);
  if (option == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown config key \"", key, "\"", where,
                     "; known keys: ", absl::StrJoin(ServerConfigKeys(), ", ")));
  }
  void* field = option->field(*config);
  auto bad = [&](const char* expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected ", expected, ", got \"", value, "\"", where));
  };
  if (is_null && option->type != OptionType::kString) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": missing value", where));
  }
  const std::string text(absl::StripAsciiWhitespace(value));
  switch (option->type) {
    case OptionType::kInt: {
      int v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      *static_cast<int*>(field) = v;
      break;
    }
    case OptionType::kInt64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      *static_cast<int64_t*>(field) = v;
      break;
    }
    case OptionType::kUint64: {
      uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a non-negative integer");
      *static_cast<uint64_t*>(field) = v;
      break;
    }
    case OptionType::kDouble: {
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) return bad("a number");
      *static_cast<double*>(field) = v;
      break;
    }
    case OptionType::kSeconds: {
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) return bad("a number");
      *static_cast<absl::Duration*>(field) = absl::Seconds(v);
      break;
    }
    case OptionType::kBool: {
      const std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true" || lower == "yes" || lower == "on") {
        *static_cast<bool*>(field) = true;
      } else if (lower == "false" || lower == "no" || lower == "off") {
        *static_cast<bool*>(field) = false;
      } else {
        return bad("true or false");
      }
      break;
    }
    case OptionType::kString:
      *static_cast<std::string*>(field) =
          option->is_path ? ResolvePath(is_null ? "" : value, base_dir) : (is_null ? "" : value);
      break;
  }
  return absl::OkStatus();
}

std::string Where(const std::string& source, const YAML::Node& node) {
  return absl::StrCat(" (", source, " line ", node.Mark().line + 1, ")");
}

absl::Status ReadMap(const YAML::Node& map, const std::string& prefix, ServerConfig* config,
                     const std::string& base_dir, const std::string& source) {
  // yaml-cpp keeps a key given twice in one map as two entries (the last would win): refused,
  // since one of the two values is a mistake nobody is told about.
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const std::string key = prefix + entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    const std::string where = Where(source, entry.first);
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate config key \"", key, "\"", where));
    }
    // The prompts section is a map of template names: any name reaches SetOption, which rejects
    // the unknown ones like any other key.
    const bool section = IsSection(key) || key == kPromptsSection;
    if (value.IsMap()) {
      if (!section) {
        return FindOption(key) != nullptr || IsPromptTemplateKey(key)
                   ? absl::InvalidArgumentError(
                         absl::StrCat(key, ": expected a value, got a map", where))
                   : absl::InvalidArgumentError(
                         absl::StrCat("unknown config key \"", key, "\"", where,
                                      "; known keys: ", absl::StrJoin(ServerConfigKeys(), ", ")));
      }
      LMEYE_RETURN_IF_ERROR(ReadMap(value, key + ".", config, base_dir, source));
    } else if (section) {
      if (value.IsNull()) continue;  // "scheduler:" with every key commented out
      return absl::InvalidArgumentError(absl::StrCat(key, ": expected a map of options", where));
    } else if (value.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": expected a value, got a list", where));
    } else {
      LMEYE_RETURN_IF_ERROR(SetOption(config, key, value.IsNull() ? "" : value.Scalar(),
                                      value.IsNull(), base_dir, where));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Validation helpers: each returns INVALID_ARGUMENT naming `key`.

absl::Status Invalid(const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

template <typename T>
absl::Status AtLeast(const std::string& key, T value, T min) {
  if (value >= min) return absl::OkStatus();
  return Invalid(key, absl::StrCat("must be >= ", min, ", got ", value));
}

// HOST:PORT, [IPv6]:PORT or unix:PATH; port 0 means any free port.
absl::Status ValidateAddress(const std::string& key, const std::string& address) {
  if (absl::StartsWith(address, "unix:") && address.size() > 5) return absl::OkStatus();
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Invalid(key, absl::StrCat("expected HOST:PORT, got \"", address, "\""));
  }
  const std::string host = address.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') {
    return Invalid(key, absl::StrCat("unbalanced [ in \"", address, "\""));
  }
  if (host.front() != '[' && host.find(':') != std::string::npos) {
    return Invalid(key, absl::StrCat("write an IPv6 host in brackets: \"[", host, "]:PORT\""));
  }
  int port;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return Invalid(key, absl::StrCat("bad port in \"", address, "\" (0..65535)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDevice(const std::string& device) {
  if (device == "cpu" || device == "cuda") return absl::OkStatus();
  int index;
  if (absl::StartsWith(device, "cuda:") && absl::SimpleAtoi(device.substr(5), &index) &&
      index >= 0) {
    return absl::OkStatus();
  }
  return Invalid("device", absl::StrCat("expected cpu, cuda or cuda:N, got \"", device, "\""));
}

absl::Status ValidateFile(const std::string& key, const std::string& path) {
  if (path.empty() || FileExists(path)) return absl::OkStatus();
  return Invalid(key, absl::StrCat("no such file \"", path, "\""));
}

absl::Status ValidateSecurity(const std::string& auth_token_file, const GrpcServerOptions& g) {
  LMEYE_RETURN_IF_ERROR(ValidateFile("security.auth_token_file", auth_token_file));
  LMEYE_RETURN_IF_ERROR(ValidateFile("security.tls_cert_file", g.tls_cert_file));
  LMEYE_RETURN_IF_ERROR(ValidateFile("security.tls_key_file", g.tls_key_file));
  LMEYE_RETURN_IF_ERROR(ValidateFile("security.client_ca_file", g.tls_client_ca_file));
  if (g.tls_cert_file.empty() != g.tls_key_file.empty()) {
    return Invalid(g.tls_cert_file.empty() ? "security.tls_cert_file" : "security.tls_key_file",
                   "TLS needs both tls_cert_file and tls_key_file");
  }
  if (!g.tls_client_ca_file.empty() && g.tls_cert_file.empty()) {
    return Invalid("security.client_ca_file",
                   "mTLS needs TLS: set tls_cert_file and tls_key_file too");
  }
  return absl::OkStatus();
}

// keepalive.* durations, in the seconds the file gives them.
absl::Status ValidateKeepalive(const GrpcServerOptions& g) {
  for (const auto& [key, value] :
       {std::pair<const char*, absl::Duration>{"keepalive.time_seconds", g.keepalive_time},
        {"keepalive.timeout_seconds", g.keepalive_timeout}}) {
    if (value <= absl::ZeroDuration()) {
      return Invalid(key, absl::StrCat("must be > 0, got ", absl::ToDoubleSeconds(value)));
    }
  }
  for (const auto& [key, value] :
       {std::pair<const char*, absl::Duration>{"keepalive.min_ping_interval_seconds",
                                               g.min_client_ping_interval},
        {"keepalive.max_connection_idle_seconds", g.max_connection_idle},
        {"keepalive.max_connection_age_seconds", g.max_connection_age},
        {"keepalive.max_connection_age_grace_seconds", g.max_connection_age_grace}}) {
    LMEYE_RETURN_IF_ERROR(AtLeast(key, absl::ToDoubleSeconds(value), 0.0));
  }
  return AtLeast("keepalive.max_ping_strikes", g.max_ping_strikes, 0);
}

// The option's value as the file spells it.
std::string OptionText(const Option& option, ServerConfig& config) {
  void* field = option.field(config);
  switch (option.type) {
    case OptionType::kInt:
      return absl::StrCat(*static_cast<int*>(field));
    case OptionType::kInt64:
      return absl::StrCat(*static_cast<int64_t*>(field));
    case OptionType::kUint64:
      return absl::StrCat(*static_cast<uint64_t*>(field));
    case OptionType::kDouble:
      return absl::StrCat(*static_cast<double*>(field));
    case OptionType::kSeconds:
      return absl::StrCat(absl::ToDoubleSeconds(*static_cast<absl::Duration*>(field)));
    case OptionType::kBool:
      return *static_cast<bool*>(field) ? "true" : "false";
    case OptionType::kString:
      return *static_cast<std::string*>(field);
  }
  return "";
}

}  // namespace

std::vector<std::string> ServerConfigKeys() {
  std::vector<std::string> keys;
  for (const Option& option : Options()) keys.push_back(option.key);
  for (const auto& [name, unused] : PromptTemplateFields()) {
    keys.push_back(absl::StrCat(kPromptsSection, ".", name));
  }
  return keys;
}

absl::Status ServerConfig::Validate() const {
  LMEYE_RETURN_IF_ERROR(ValidateAddress("listen", grpc.listen));
  if (!metrics_listen.empty()) {
    LMEYE_RETURN_IF_ERROR(ValidateAddress("metrics_listen", metrics_listen));
  }
  LMEYE_RETURN_IF_ERROR(AtLeast("workers", workers, 1));
  LMEYE_RETURN_IF_ERROR(ValidateDevice(worker.device));
  const std::string& dtype = worker.dtype;
  if (dtype != "fp32" && dtype != "bf16" && dtype != "fp16" && dtype != "int8") {
    return Invalid("dtype", absl::StrCat("expected fp32, bf16, fp16 or int8, got \"", dtype, "\""));
  }
  LMEYE_RETURN_IF_ERROR(AtLeast("threads", threads, 0));
  LMEYE_RETURN_IF_ERROR(AtLeast("drain_timeout_seconds", drain_timeout_seconds, 0.0));

  const SchedulerOptions& s = worker.scheduler;
  LMEYE_RETURN_IF_ERROR(AtLeast("scheduler.max_running", s.max_running, 1));
  LMEYE_RETURN_IF_ERROR(AtLeast("scheduler.max_batched_tokens", s.max_batched_tokens, 1));
  LMEYE_RETURN_IF_ERROR(
      AtLeast("scheduler.kv_capacity_tokens", s.kv_capacity_tokens, static_cast<int64_t>(0)));
  LMEYE_RETURN_IF_ERROR(AtLeast("scheduler.max_sequence_positions", s.max_sequence_positions, 2));
  LMEYE_RETURN_IF_ERROR(AtLeast("scheduler.max_queue", s.max_queue, 1));
  LMEYE_RETURN_IF_ERROR(AtLeast("scheduler.image_decode_threads", s.image_decode_threads, 1));

  LMEYE_RETURN_IF_ERROR(
      AtLeast("caches.image_cache_entries", worker.image_cache_entries, int64_t{0}));
  LMEYE_RETURN_IF_ERROR(AtLeast("caches.prefix_cache_entries", s.prefix_cache_entries, 0));

  const ServiceLimits& l = limits;
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_image_bytes", l.max_image_bytes, uint64_t{1}));
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_image_pixels", l.max_image_pixels, uint64_t{1}));
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_image_side", worker.image_limits.max_side, 1));
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_prompt_tokens", prompt_limits.max_prompt_tokens, 1));
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_new_tokens", l.max_new_tokens, 1));
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_choices", prompt_limits.max_choices, 1));
  // The image travels inside a message: a message limit at or under the image limit would turn
  // the named image-size error into gRPC's own RESOURCE_EXHAUSTED.
  const int64_t message_bytes = grpc.max_message_bytes;
  if (message_bytes <= 0 || static_cast<uint64_t>(message_bytes) <= l.max_image_bytes) {
    return Invalid("limits.max_message_bytes",
                   absl::StrCat("must be > limits.max_image_bytes (", l.max_image_bytes, "), got ",
                                message_bytes));
  }
  if (message_bytes > INT_MAX) {  // gRPC takes an int
    return Invalid("limits.max_message_bytes",
                   absl::StrCat("must be <= ", INT_MAX, ", got ", message_bytes));
  }
  LMEYE_RETURN_IF_ERROR(AtLeast("limits.max_num_beams", l.max_num_beams, 1));
  // A prompt of the longest allowed length must leave room for at least one generated token.
  if (prompt_limits.max_prompt_tokens >= s.max_sequence_positions) {
    return Invalid(
        "limits.max_prompt_tokens",
        absl::StrCat("must be < scheduler.max_sequence_positions (", s.max_sequence_positions,
                     "), got ", prompt_limits.max_prompt_tokens));
  }

  const SamplingParams& d = defaults.sampling;
  LMEYE_RETURN_IF_ERROR(AtLeast("defaults.max_new_tokens", d.max_new_tokens, 1));
  if (d.max_new_tokens > l.max_new_tokens) {
    return Invalid("defaults.max_new_tokens",
                   absl::StrCat("must be <= limits.max_new_tokens (", l.max_new_tokens, "), got ",
                                d.max_new_tokens));
  }
  LMEYE_RETURN_IF_ERROR(AtLeast("defaults.temperature", d.temperature, 0.0));
  if (!(d.top_p > 0 && d.top_p <= 1)) {
    return Invalid("defaults.top_p", absl::StrCat("must be in (0, 1], got ", d.top_p));
  }
  LMEYE_RETURN_IF_ERROR(AtLeast("defaults.top_k", d.top_k, 0));
  if (!(d.repetition_penalty > 0)) {
    return Invalid("defaults.repetition_penalty",
                   absl::StrCat("must be > 0, got ", d.repetition_penalty));
  }
  for (const auto& [key, beams] :
       {std::pair<const char*, int>{"defaults.num_beams", defaults.num_beams},
        {"defaults.describe_num_beams", defaults.describe_num_beams}}) {
    if (beams < 1 || beams > l.max_num_beams) {
      return Invalid(key, absl::StrCat("must be in [1, limits.max_num_beams (", l.max_num_beams,
                                       ")], got ", beams));
    }
  }
  if (defaults.vqa_num_beams != 0 &&
      (defaults.vqa_num_beams < 1 || defaults.vqa_num_beams > l.max_num_beams)) {
    return Invalid("defaults.vqa_num_beams",
                   absl::StrCat("must be 0 (num_beams) or in [1, limits.max_num_beams (",
                                l.max_num_beams, ")], got ", defaults.vqa_num_beams));
  }
  if (defaults.vqa_num_beams > 1 && d.temperature > 0) {
    return Invalid("defaults.vqa_num_beams",
                   "beam search (> 1) does not sample: set temperature 0");
  }
  if (defaults.num_beams > 1 && d.temperature > 0) {
    return Invalid("defaults.num_beams", "beam search (> 1) does not sample: set temperature 0");
  }

  LMEYE_RETURN_IF_ERROR(ValidateSecurity(auth_token_file, grpc));
  LMEYE_RETURN_IF_ERROR(ValidateKeepalive(grpc));
  return prompts.Validate();
}

WorkerOptions ServerConfig::WorkerOptionsFor(const std::string& dir, int index) const {
  WorkerOptions options = worker;
  options.model_dir = dir;
  options.index = index;
  // The service checks the encoded size before queueing; the worker's decoder checks all three.
  options.image_limits.max_bytes = static_cast<int64_t>(limits.max_image_bytes);
  options.image_limits.max_pixels = static_cast<int64_t>(limits.max_image_pixels);
  return options;
}

ServiceOptions ServerConfig::ServiceOptionsFor(ServedModelInfo model_info) const {
  ServiceOptions options;
  options.limits = limits;
  options.limits.max_message_bytes = static_cast<uint64_t>(grpc.max_message_bytes);  // reported
  options.defaults = defaults;
  options.model_info = std::move(model_info);
  return options;
}

absl::StatusOr<ServerConfig> ParseServerConfigYaml(const std::string& yaml,
                                                   const std::string& base_dir,
                                                   const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
  }
  ServerConfig config;
  if (root.IsNull()) return config;  // an empty (or all-comment) file: every default
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a map of options"));
  }
  try {
    LMEYE_RETURN_IF_ERROR(ReadMap(root, "", &config, base_dir, source));
  } catch (const YAML::Exception& e) {  // e.g. a non-scalar map key
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfigFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--config: ", text.status().message()));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  return ParseServerConfigYaml(*text, dir.empty() && slash == 0 ? "/" : dir, path);
}

absl::Status SetServerConfigOption(ServerConfig* config, const std::string& key,
                                   const std::string& value) {
  return SetOption(config, key, value, /*is_null=*/false, /*base_dir=*/"", "");
}

absl::StatusOr<std::map<std::string, std::string>> PromptTemplateOverrides(
    const ServerConfig& config) {
  std::map<std::string, std::string> templates;
  if (!config.prompts_file.empty()) {
    LMEYE_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(config.prompts_file));
    if (!json.is_object()) {
      return Invalid("prompts.file", absl::StrCat("\"", config.prompts_file,
                                                  "\" must hold a JSON object of strings"));
    }
    for (auto it = json.begin(); it != json.end(); ++it) {
      if (!it.value().is_string()) {
        return Invalid("prompts.file", absl::StrCat("\"", config.prompts_file, "\": ", it.key(),
                                                    " must be a string"));
      }
      templates[it.key()] = it.value().get<std::string>();
    }
  }
  for (const auto& [name, text] : config.prompt_overrides) templates[name] = text;
  return templates;
}

absl::Status ResolvePromptTemplates(ServerConfig* config) {
  LMEYE_ASSIGN_OR_RETURN(auto templates, PromptTemplateOverrides(*config));
  LMEYE_ASSIGN_OR_RETURN(config->prompts, ParsePromptTemplates(templates));
  return absl::OkStatus();
}

std::string ServerConfigOptionText(const ServerConfig& config, const std::string& key) {
  const Option* option = FindOption(key);
  if (option == nullptr) return "";
  ServerConfig copy = config;  // Option::field takes a mutable config
  return OptionText(*option, copy);
}

}  // namespace lmeye
