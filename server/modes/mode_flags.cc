#include "server/modes/mode_flags.h"

#include <iostream>

#include "absl/strings/str_cat.h"

namespace lmeye {

std::string ModeUsage(const std::string& about, const std::vector<Flag>& flags) {
  return absl::StrCat(about, "flags:\n", FlagHelp(flags));
}

int ModeUsageError(const std::string& mode, const std::string& message) {
  std::cerr << "lmeye " << mode << ": " << message << "\n(lmeye " << mode << " --help for usage)\n";
  return 2;
}

std::optional<int> ParseModeFlags(const std::string& mode, const std::string& about,
                                  const std::vector<Flag>& flags,
                                  const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> parsed = ParseFlags(flags, args);
  if (!parsed.ok()) return ModeUsageError(mode, std::string(parsed.status().message()));
  if (parsed->help) {
    std::cout << ModeUsage(about, flags);
    return 0;
  }
  return std::nullopt;
}

}  // namespace lmeye
