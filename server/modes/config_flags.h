// The `lmeye serve` command line over the config (config.h): a flag table (model/common/flags.h)
// with --config FILE, a flag for each of the common options (--model, --listen, --metrics-listen,
// --workers, --device, --dtype, --threads) and --set KEY=VALUE for any key of the file
// (repeatable).
//
// The flags only record what they were given; BuildServerConfig then loads the file, applies the
// recorded options in command-line order (so flags win over the file wherever --config stands),
// resolves the prompts and validates. A value is checked by the config's own parser, so a bad one
// names both the flag and the key ("--workers: workers: expected an integer, got \"two\"").
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/common/flags.h"
#include "server/modes/config.h"

namespace lmeye {

// What the flags recorded.
struct ServerConfigFlags {
  std::string config_file;  // --config; empty: every option at its default
  struct Option {
    std::string flag;  // as given, for errors: "workers", or "set"
    std::string key;   // dotted config key
    std::string value;
  };
  std::vector<Option> options;  // in command-line order
};

// The rows that record into `out` (which must outlive the parse); a command adds its own rows
// (serve_main's --ports-file) to the same table.
std::vector<Flag> ServerConfigFlagTable(ServerConfigFlags* out);

// The file, then the recorded options, then prompts; validated. INVALID_ARGUMENT naming the flag
// or the key.
absl::StatusOr<ServerConfig> BuildServerConfig(const ServerConfigFlags& flags);

// ParseFlags over ServerConfigFlagTable, then BuildServerConfig: the config a command line of
// config flags alone describes. `args` excludes the program and mode names; --help is an error
// here (the serve main answers it).
absl::StatusOr<ServerConfig> LoadServerConfig(const std::vector<std::string>& args);

}  // namespace lmeye
