// Command-line flags: one table per command, one parser and one help text for every command of
// the project (the `lmeye` modes and lmeye_client). Torch-free and gRPC-free, so any folder may use
// it.
//
// A command declares its flags as a table of rows next to the options struct they fill:
//
//   BenchOptions options;
//   const std::vector<Flag> flags = {
//       StringFlag("model", &options.model_dir, "DIR", "LMEye model directory").Required(),
//       IntFlag("decode-steps", &options.decode_steps, "N", "decode steps timed", kPositive),
//       BoolFlag("json", &json, "print JSON"),
//   };
//   absl::StatusOr<ParsedFlags> parsed = ParseFlags(flags, args);
//
// Syntax (the same for every command):
// - `--name value` and `--name=value`; a switch (kBool) is `--name` alone.
// - `-` and `_` are the same inside a name (`--batch_size` is `--batch-size`).
// - A value that starts with "--" is taken for the next flag, so "--workers --threads 1" is
//   "--workers needs a value"; give such a value as `--name=--value`. Negative numbers ("-1") are
//   values.
// - A flag given twice: the last value wins, except for kStrings rows, which collect every value
//   in order (and custom rows, whose setter sees every value).
// - `--help` or `-h` anywhere stops parsing: ParsedFlags::help, no error.
//
// Errors are INVALID_ARGUMENT and name the flag: "unknown flag --modle", "--seed needs a value",
// "--seed: expected a non-negative integer, got \"x\"", "--json takes no value",
// "--out is required", "unexpected argument \"stray\"".
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace lmeye {

// What a flag's value is: whether it takes one (kBool does not), how a number is checked before
// anything is stored (by the row's setter: IntFlag, DoubleFlag, CustomFlag), and whether repeats
// add up (kStrings).
enum class FlagKind {
  kString,   // any text
  kInt,      // an integer within the target's type (int, uint32_t) and the row's range
  kInt64,    // the same, 64-bit targets
  kDouble,   // a finite number within the row's range
  kBool,     // a switch: present means true, it takes no value
  kStrings,  // text, repeatable: every occurrence is kept
};

// The values a numeric flag accepts; also how its error message says so ("a positive integer",
// "an integer in [64, 1024]", "a non-negative number").
struct FlagRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;  // (min, max] rather than [min, max]
};
inline constexpr FlagRange kAnyValue{};
inline constexpr FlagRange kNonNegative{0};
inline constexpr FlagRange kPositive{0, std::numeric_limits<double>::infinity(), true};
constexpr FlagRange InRange(double min, double max) { return FlagRange{min, max}; }

// One row of a command's flag table. Rows are made by the functions below (StringFlag, IntFlag,
// ...), which write a typed field, or by CustomFlag, whose setter receives the checked text.
struct Flag {
  std::string name;  // without the dashes: "model" is --model
  FlagKind kind = FlagKind::kString;
  std::string value_name;  // the value in the help text: "--model DIR"; unused for kBool
  std::string help;        // one line; the help text adds the default and "(required)"
  // Receives each occurrence's value text once the kind's check has passed ("true" for a bare
  // kBool). An error is returned as it is, so it must name the flag (FlagValueError helps).
  std::function<absl::Status(const std::string& value)> set;
  FlagRange range;                // kInt, kInt64, kDouble
  std::string default_text;       // shown as "(default X)"; typed rows take it from their field
  bool required = false;          // ParseFlags fails with "--name is required" when it is absent
  bool bool_takes_value = false;  // kBool: accept --name=VALUE too and pass VALUE to `set`

  // Modifiers for the table literal: `StringFlag(...).Required()`.
  Flag Required() && {
    required = true;
    return std::move(*this);
  }
  Flag Default(std::string text) && {
    default_text = std::move(text);
    return std::move(*this);
  }
};

// "--name: expected EXPECTED, got \"value\"": the one wording of a bad value.
absl::Status FlagValueError(const std::string& name, const std::string& value,
                            const std::string& expected);

// Rows that write a field of the command's options. `target` must outlive the parse.
Flag StringFlag(std::string name, std::string* target, std::string value_name, std::string help);
Flag StringFlag(std::string name, std::optional<std::string>* target, std::string value_name,
                std::string help);
Flag StringsFlag(std::string name, std::vector<std::string>* target, std::string value_name,
                 std::string help);
Flag BoolFlag(std::string name, bool* target, std::string help);
// A row with its own setter: the kind's check runs first (kInt: an int in `range`, kInt64: an
// int64_t, kDouble: a finite number), then `set` gets the text.
Flag CustomFlag(std::string name, FlagKind kind, std::string value_name, std::string help,
                std::function<absl::Status(const std::string& value)> set,
                FlagRange range = kAnyValue);

namespace flags_internal {

// Parses an integer of type T within `range`; the error names the flag.
absl::StatusOr<int64_t> ParseInt64(const std::string& name, const std::string& value,
                                   FlagRange range, double type_min, double type_max);
absl::StatusOr<uint64_t> ParseUint64(const std::string& name, const std::string& value,
                                     FlagRange range);
absl::StatusOr<double> ParseDouble(const std::string& name, const std::string& value,
                                   FlagRange range);

template <typename T>
struct Unwrap {
  using type = T;
  static constexpr bool kOptional = false;
};
template <typename T>
struct Unwrap<std::optional<T>> {
  using type = T;
  static constexpr bool kOptional = true;
};

}  // namespace flags_internal

// An integer row writing an integer field (int, int64_t, uint32_t, uint64_t, ...) or an
// std::optional of one (set only when the flag is given).
template <typename Field>
Flag IntFlag(std::string name, Field* target, std::string value_name, std::string help,
             FlagRange range = kAnyValue) {
  using T = typename flags_internal::Unwrap<Field>::type;
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>, "IntFlag needs an integer");
  Flag flag;
  flag.name = std::move(name);
  flag.kind = sizeof(T) > sizeof(int32_t) ? FlagKind::kInt64 : FlagKind::kInt;
  flag.value_name = std::move(value_name);
  flag.help = std::move(help);
  // An unsigned field takes no negative value, whatever the row says.
  if (std::is_unsigned_v<T> && range.min < 0) range = FlagRange{0, range.max};
  flag.range = range;
  if constexpr (!flags_internal::Unwrap<Field>::kOptional) {
    flag.default_text = absl::StrCat(*target);
  }
  flag.set = [target, range, n = flag.name](const std::string& value) -> absl::Status {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) == sizeof(uint64_t)) {
      absl::StatusOr<uint64_t> v = flags_internal::ParseUint64(n, value, range);
      if (!v.ok()) return v.status();
      *target = static_cast<T>(*v);
    } else {
      absl::StatusOr<int64_t> v = flags_internal::ParseInt64(
          n, value, range, static_cast<double>(std::numeric_limits<T>::min()),
          static_cast<double>(std::numeric_limits<T>::max()));
      if (!v.ok()) return v.status();
      *target = static_cast<T>(*v);
    }
    return absl::OkStatus();
  };
  return flag;
}

// A number row writing a double or float field, or an std::optional of one.
template <typename Field>
Flag DoubleFlag(std::string name, Field* target, std::string value_name, std::string help,
                FlagRange range = kAnyValue) {
  using T = typename flags_internal::Unwrap<Field>::type;
  static_assert(std::is_floating_point_v<T>, "DoubleFlag needs a floating-point field");
  Flag flag;
  flag.name = std::move(name);
  flag.kind = FlagKind::kDouble;
  flag.value_name = std::move(value_name);
  flag.help = std::move(help);
  flag.range = range;
  if constexpr (!flags_internal::Unwrap<Field>::kOptional) {
    flag.default_text = absl::StrCat(*target);
  }
  flag.set = [target, range, n = flag.name](const std::string& value) -> absl::Status {
    absl::StatusOr<double> v = flags_internal::ParseDouble(n, value, range);
    if (!v.ok()) return v.status();
    *target = static_cast<T>(*v);
    return absl::OkStatus();
  };
  return flag;
}

struct ParsedFlags {
  bool help = false;  // --help or -h was given: print FlagHelp (or the command's usage), exit 0
};

// Parses `args` (the command's arguments, without the program and command names) against
// `flags`, calling each row's setter in command-line order. Stops at the first error, which
// names the flag; on --help returns at once with help set (later arguments unchecked).
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<Flag>& flags,
                                       const std::vector<std::string>& args);

// A line per row, in table order, wrapped at 100 columns: "  --name VALUE   help (default X)",
// or "(required)".
std::string FlagHelp(const std::vector<Flag>& flags);

}  // namespace lmeye
