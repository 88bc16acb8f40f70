#include "server/modes/config_flags.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {

std::vector<Flag> ServerConfigFlagTable(ServerConfigFlags* out) {
  const ServerConfig defaults;
  // A flag that sets one key; the help shows the key's default.
  auto option = [&](const char* name, const char* key, const char* value_name, const char* help) {
    Flag flag = CustomFlag(name, FlagKind::kString, value_name, help,
                           [out, name, key](const std::string& value) {
                             out->options.push_back({name, key, value});
                             return absl::OkStatus();
                           });
    flag.default_text = ServerConfigOptionText(defaults, key);
    return flag;
  };
  return {
      StringFlag("config", &out->config_file, "FILE",
                 "YAML config file; every key is documented in deploy/lmeye.example.yaml"),
      option("model", "model_dir", "DIR", "LMEye model directory; unset: the embedded model"),
      option("listen", "listen", "HOST:PORT", "gRPC address (port 0: any free port)"),
      option("metrics-listen", "metrics_listen", "HOST:PORT",
             "Prometheus /metrics address; empty: off"),
      option("workers", "workers", "N", "model replicas"),
      option("device", "device", "cpu|cuda|cuda:N", "where the model runs"),
      option("dtype", "dtype", "fp32|bf16|fp16|int8",
             "weights and activations; int8: the LLM's weights int8, the rest bf16"),
      option("threads", "threads", "N", "CPU threads; 0: every core"),
      CustomFlag("set", FlagKind::kStrings, "KEY=VALUE",
                 "any key of the file, e.g. --set scheduler.max_running=32 (repeatable)",
                 [out](const std::string& value) -> absl::Status {
                   const size_t eq = value.find('=');
                   if (eq == std::string::npos || eq == 0) {
                     return FlagValueError("set", value, "KEY=VALUE");
                   }
                   out->options.push_back({"set", value.substr(0, eq), value.substr(eq + 1)});
                   return absl::OkStatus();
                 }),
  };
}

absl::StatusOr<ServerConfig> BuildServerConfig(const ServerConfigFlags& flags) {
  ServerConfig config;
  if (!flags.config_file.empty()) {
    LMEYE_ASSIGN_OR_RETURN(config, LoadServerConfigFile(flags.config_file));
  }
  for (const ServerConfigFlags::Option& o : flags.options) {
    absl::Status status = SetServerConfigOption(&config, o.key, o.value);
    if (status.ok()) continue;
    // --set's errors name the key already; a named flag's name the flag too.
    if (o.flag == "set") return status;
    return absl::InvalidArgumentError(absl::StrCat("--", o.flag, ": ", status.message()));
  }
  LMEYE_RETURN_IF_ERROR(ResolvePromptTemplates(&config));
  LMEYE_RETURN_IF_ERROR(config.Validate());
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::vector<std::string>& args) {
  ServerConfigFlags flags;
  LMEYE_ASSIGN_OR_RETURN(ParsedFlags parsed, ParseFlags(ServerConfigFlagTable(&flags), args));
  if (parsed.help) return absl::InvalidArgumentError("--help: usage is for lmeye serve to print");
  return BuildServerConfig(flags);
}

}  // namespace lmeye
