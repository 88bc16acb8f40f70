// How every `lmeye` mode reads its flag table (model/common/flags.h) and answers --help and usage
// errors, so that they all behave alike: --help prints the usage on stdout and exits 0; a usage
// error prints "lmeye MODE: <message naming the flag>" on stderr and exits 2.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/common/flags.h"

namespace lmeye {

// `about`: the usage line(s) and what the mode does; the flag list is made from `flags`.
std::string ModeUsage(const std::string& about, const std::vector<Flag>& flags);

// Parses `args` into the table's fields. Returns the exit code when the mode must stop here (0
// after --help, 2 after a usage error, both printed), nullopt when it should run. `mode` is how
// messages start: "bench", "data shapes".
std::optional<int> ParseModeFlags(const std::string& mode, const std::string& about,
                                  const std::vector<Flag>& flags,
                                  const std::vector<std::string>& args);

// Prints "lmeye MODE: message" and the pointer to --help; returns 2, the usage exit code. For
// checks a table cannot express (flags that exclude each other, a value parsed later).
int ModeUsageError(const std::string& mode, const std::string& message);

}  // namespace lmeye
