// A restricted unpickler for the pickles torch.save writes (`data.pkl` of the zip format, the five
// pickles of the legacy format). It builds plain values and never imports or runs anything: every
// GLOBAL must be on the caller's allow-list, and "calling" one (REDUCE, NEWOBJ) runs the C++
// handler the caller registered for it. Protocols 0-5 as far as torch files use them (protocol 2
// by default; 4/5 when saved with a higher pickle_protocol: FRAME, SHORT_BINUNICODE, MEMOIZE,
// STACK_GLOBAL...); out-of-band buffers, extension codes and INST/OBJ are rejected.
//
// Nothing in the input is trusted: lengths are checked against the bytes left before anything is
// allocated, and the stack, the memo, the number of values and the nesting depth are bounded
// (PickleLimits), so a hostile pickle costs at most a bounded, input-proportional amount of memory
// and returns an error instead of crashing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

enum class PickleKind {
  kNone,
  kBool,
  kInt,     // fits int64
  kBigInt,  // a longer LONG1/LONG4 (torch's legacy magic number is one)
  kFloat,
  kString,
  kBytes,
  kTuple,
  kList,
  kDict,
  kSet,
  kGlobal,    // an allow-listed "module.name" used as a value (e.g. torch.HalfStorage)
  kExternal,  // something a handler built (a storage, a tensor); `integer` is the handler's id
};

// One unpickled value. Values live in a PickleArena and point at each other with raw pointers:
// the memo can make a value appear many times (and a hostile pickle can make cycles), which
// shared ownership would leak and recursive destruction could overflow the stack on.
struct PickleValue {
  PickleKind kind = PickleKind::kNone;
  bool boolean = false;  // kBool
  int64_t integer = 0;   // kInt; kExternal: the handler's id
  double real = 0;       // kFloat
  // kString (as stored, UTF-8), kBytes, kBigInt (little-endian two's complement), kGlobal
  // ("module.name"), kExternal (a short description for messages, e.g. "tensor float16 [1, 80]").
  std::string text;
  // kTuple, kList, kSet: the elements. kDict: key, value, key, value, ... in insertion order.
  std::vector<PickleValue*> items;
  // Container nesting below this value, as of the last insertion (1 for scalars).
  uint32_t depth = 1;

  size_t dict_size() const { return items.size() / 2; }
  // kDict with string keys: the value under `key`, or nullptr.
  const PickleValue* DictGet(absl::string_view key) const;
};

absl::string_view PickleKindName(PickleKind kind);
// One line for messages and listings: "int 4", "str 'cpu'", "dict (3 entries)", or a kExternal's
// own text.
std::string DescribePickleValue(const PickleValue& value);

// Owns the values of one or more pickles (a legacy checkpoint's pickles share one arena).
class PickleArena {
 public:
  explicit PickleArena(size_t max_values) : max_values_(max_values) {}
  PickleArena(const PickleArena&) = delete;
  PickleArena& operator=(const PickleArena&) = delete;

  // ResourceExhausted once max_values values exist.
  absl::StatusOr<PickleValue*> New(PickleKind kind);
  size_t size() const { return values_.size(); }

 private:
  std::deque<PickleValue> values_;  // a deque: pointers stay valid as it grows
  size_t max_values_;
};

struct PickleLimits {
  size_t max_depth = 64;        // container nesting (a state dict with its optimizer needs ~6)
  size_t max_stack = 1 << 20;   // values and marks on the stack
  size_t max_memo = 1 << 22;    // memo entries
  size_t max_values = 1 << 23;  // values in the arena (each opcode makes at most one)
  size_t max_text_line = 4096;  // GLOBAL names and other protocol-0 text arguments
};

// What REDUCE / NEWOBJ of an allow-listed global builds from `args` (a kTuple). Errors are
// reported with the pickle offset and the global's name prepended.
using PickleCallable =
    std::function<absl::StatusOr<PickleValue*>(PickleArena& arena, const PickleValue& args)>;
// What a persistent id (BINPERSID / PERSID) stands for.
using PicklePersistentLoad =
    std::function<absl::StatusOr<PickleValue*>(PickleArena& arena, const PickleValue& pid)>;

struct UnpickleOptions {
  // The allow-list: "module.name" -> handler. A null handler admits the global as a value only
  // (a storage type inside a persistent id); calling it is an error. Any other global is an error
  // naming it.
  std::map<std::string, PickleCallable, std::less<>> globals;
  PicklePersistentLoad persistent_load;  // null: a persistent id is an error
  PickleLimits limits;
};

struct UnpickleResult {
  PickleValue* value = nullptr;
  size_t end = 0;  // offset just past the STOP opcode
};

// Unpickles the one pickle that starts at data[offset]. Errors are INVALID_ARGUMENT (or
// RESOURCE_EXHAUSTED for a limit) with messages "pickle byte N (OPCODE): what".
absl::StatusOr<UnpickleResult> Unpickle(absl::string_view data, size_t offset,
                                        const UnpickleOptions& options, PickleArena& arena);

}  // namespace lmeye
