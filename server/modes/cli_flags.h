// Flag parsing shared by lmeye's subcommands (data, init-model, verify): "--name value" and
// "--name=value".
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lmeye {

// A flag's value from "--name value" or "--name=value"; advances `i` past what it used.
// nullopt when `args[i]` is not this flag; `missing` set when the flag has no value.
inline std::optional<std::string> FlagValue(const std::vector<std::string>& args, size_t& i,
                                            const std::string& name, bool& missing) {
  const std::string& a = args[i];
  if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
  if (a != name) return std::nullopt;
  if (i + 1 >= args.size()) {
    missing = true;
    return std::nullopt;
  }
  return args[++i];
}

}  // namespace lmeye
