#include "model/common/flags.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace lmeye {
namespace {

// Column of the help text where the explanations start, and the width they wrap at.
constexpr size_t kHelpColumn = 28;
constexpr size_t kHelpWidth = 100;

// `-` and `_` are one character inside a name, so a config key works as a flag as it is spelt.
std::string CanonicalName(const std::string& name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

// How a range reads in an error: "a positive integer", "a number in [0, 1]".
std::string Expected(FlagRange range, bool integer) {
  const char* noun = integer ? "integer" : "number";
  const bool has_min = std::isfinite(range.min);
  const bool has_max = std::isfinite(range.max);
  if (has_min && range.min == 0 && !has_max) {
    return absl::StrCat(range.min_exclusive ? "a positive " : "a non-negative ", noun);
  }
  const std::string article = integer ? "an " : "a ";
  if (has_min && has_max) {
    return absl::StrCat(article, noun, " in ", range.min_exclusive ? "(" : "[", range.min, ", ",
                        range.max, "]");
  }
  if (has_min) return absl::StrCat(article, noun, range.min_exclusive ? " > " : " >= ", range.min);
  if (has_max) return absl::StrCat(article, noun, " <= ", range.max);
  return article + noun;
}

bool Accepts(double v, FlagRange range) {
  return (range.min_exclusive ? v > range.min : v >= range.min) && v <= range.max;
}

const Flag* Find(const std::vector<Flag>& flags, const std::string& name) {
  const std::string canonical = CanonicalName(name);
  for (const Flag& flag : flags) {
    if (CanonicalName(flag.name) == canonical) return &flag;
  }
  return nullptr;
}

Flag Row(std::string name, FlagKind kind, std::string value_name, std::string help) {
  Flag flag;
  flag.name = std::move(name);
  flag.kind = kind;
  flag.value_name = std::move(value_name);
  flag.help = std::move(help);
  return flag;
}

}  // namespace

absl::Status FlagValueError(const std::string& name, const std::string& value,
                            const std::string& expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, ": expected ", expected, ", got \"", value, "\""));
}

namespace flags_internal {

absl::StatusOr<int64_t> ParseInt64(const std::string& name, const std::string& value,
                                   FlagRange range, double type_min, double type_max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v) || !Accepts(static_cast<double>(v), range) ||
      static_cast<double>(v) < type_min || static_cast<double>(v) > type_max) {
    return FlagValueError(name, value, Expected(range, /*integer=*/true));
  }
  return v;
}

absl::StatusOr<uint64_t> ParseUint64(const std::string& name, const std::string& value,
                                     FlagRange range) {
  uint64_t v = 0;
  // SimpleAtoi into an unsigned type accepts "-1" as a huge number on some versions: refused.
  if (absl::StartsWith(value, "-") || !absl::SimpleAtoi(value, &v) ||
      !Accepts(static_cast<double>(v), range)) {
    return FlagValueError(name, value, Expected(range, /*integer=*/true));
  }
  return v;
}

absl::StatusOr<double> ParseDouble(const std::string& name, const std::string& value,
                                   FlagRange range) {
  double v = 0;
  if (!absl::SimpleAtod(value, &v) || !std::isfinite(v) || !Accepts(v, range)) {
    return FlagValueError(name, value, Expected(range, /*integer=*/false));
  }
  return v;
}

}  // namespace flags_internal

Flag StringFlag(std::string name, std::string* target, std::string value_name, std::string help) {
  Flag flag = Row(std::move(name), FlagKind::kString, std::move(value_name), std::move(help));
  flag.default_text = *target;
  flag.set = [target](const std::string& value) {
    *target = value;
    return absl::OkStatus();
  };
  return flag;
}

Flag StringFlag(std::string name, std::optional<std::string>* target, std::string value_name,
                std::string help) {
  Flag flag = Row(std::move(name), FlagKind::kString, std::move(value_name), std::move(help));
  flag.set = [target](const std::string& value) {
    *target = value;
    return absl::OkStatus();
  };
  return flag;
}

Flag StringsFlag(std::string name, std::vector<std::string>* target, std::string value_name,
                 std::string help) {
  Flag flag = Row(std::move(name), FlagKind::kStrings, std::move(value_name), std::move(help));
  flag.set = [target](const std::string& value) {
    target->push_back(value);
    return absl::OkStatus();
  };
  return flag;
}

Flag BoolFlag(std::string name, bool* target, std::string help) {
  Flag flag = Row(std::move(name), FlagKind::kBool, "", std::move(help));
  flag.set = [target](const std::string&) {
    *target = true;
    return absl::OkStatus();
  };
  return flag;
}

Flag CustomFlag(std::string name, FlagKind kind, std::string value_name, std::string help,
                std::function<absl::Status(const std::string& value)> set, FlagRange range) {
  Flag flag = Row(std::move(name), kind, std::move(value_name), std::move(help));
  flag.range = range;
  flag.set = [kind, range, n = flag.name, set = std::move(set)](const std::string& value) {
    absl::Status checked;
    if (kind == FlagKind::kInt) {
      checked = flags_internal::ParseInt64(n, value, range, std::numeric_limits<int>::min(),
                                           std::numeric_limits<int>::max())
                    .status();
    } else if (kind == FlagKind::kInt64) {
      checked = flags_internal::ParseInt64(n, value, range,
                                           static_cast<double>(std::numeric_limits<int64_t>::min()),
                                           static_cast<double>(std::numeric_limits<int64_t>::max()))
                    .status();
    } else if (kind == FlagKind::kDouble) {
      checked = flags_internal::ParseDouble(n, value, range).status();
    }
    return checked.ok() ? set(value) : checked;
  };
  return flag;
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<Flag>& flags,
                                       const std::vector<std::string>& args) {
  ParsedFlags parsed;
  std::vector<const Flag*> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      return parsed;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const Flag* flag = Find(flags, name);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (flag->kind == FlagKind::kBool) {
      if (value && !flag->bool_takes_value) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      if (!value) value = "true";
    } else if (!value) {
      // The next argument is this flag's value unless it is a flag itself: "--workers --threads 1"
      // is a forgotten value, not a worker count of "--threads".
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    if (flag->set) {
      if (absl::Status s = flag->set(*value); !s.ok()) return s;
    }
    seen.push_back(flag);
  }
  for (const Flag& flag : flags) {
    if (flag.required && std::find(seen.begin(), seen.end(), &flag) == seen.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag.name, " is required"));
    }
  }
  return parsed;
}

std::string FlagHelp(const std::vector<Flag>& flags) {
  std::string out;
  for (const Flag& flag : flags) {
    std::string left = absl::StrCat("  --", flag.name);
    if (flag.kind != FlagKind::kBool && !flag.value_name.empty()) {
      absl::StrAppend(&left, " ", flag.value_name);
    }
    std::string help = flag.help;
    if (flag.required) {
      absl::StrAppend(&help, " (required)");
    } else if (!flag.default_text.empty()) {
      absl::StrAppend(&help, " (default ", flag.default_text, ")");
    }
    // Word-wrapped at kHelpWidth, continuation lines under the first.
    std::string line = left;
    line.resize(std::max(left.size() + 1, kHelpColumn), ' ');
    size_t words_on_line = 0;
    for (absl::string_view word : absl::StrSplit(help, ' ', absl::SkipEmpty())) {
      if (words_on_line > 0 && line.size() + 1 + word.size() > kHelpWidth) {
        absl::StrAppend(&out, line, "\n");
        line.assign(kHelpColumn, ' ');
        words_on_line = 0;
      }
      absl::StrAppend(&line, words_on_line > 0 ? " " : "", word);
      ++words_on_line;
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace lmeye
