#include "model/io/torch_pickle.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// The opcodes: identifier, byte, and CPython's name (Lib/pickle.py) for messages.
#define LMEYE_PICKLE_OPCODES(X)                 \
  X(kMark, '(', "MARK")                         \
  X(kStop, '.', "STOP")                         \
  X(kPop, '0', "POP")                           \
  X(kPopMark, '1', "POP_MARK")                  \
  X(kDup, '2', "DUP")                           \
  X(kFloat, 'F', "FLOAT")                       \
  X(kInt, 'I', "INT")                           \
  X(kBinInt, 'J', "BININT")                     \
  X(kBinInt1, 'K', "BININT1")                   \
  X(kLong, 'L', "LONG")                         \
  X(kBinInt2, 'M', "BININT2")                   \
  X(kNone, 'N', "NONE")                         \
  X(kPersId, 'P', "PERSID")                     \
  X(kBinPersId, 'Q', "BINPERSID")               \
  X(kReduce, 'R', "REDUCE")                     \
  X(kString, 'S', "STRING")                     \
  X(kBinString, 'T', "BINSTRING")               \
  X(kShortBinString, 'U', "SHORT_BINSTRING")    \
  X(kUnicode, 'V', "UNICODE")                   \
  X(kBinUnicode, 'X', "BINUNICODE")             \
  X(kAppend, 'a', "APPEND")                     \
  X(kBuild, 'b', "BUILD")                       \
  X(kGlobal, 'c', "GLOBAL")                     \
  X(kDict, 'd', "DICT")                         \
  X(kEmptyDict, '}', "EMPTY_DICT")              \
  X(kAppends, 'e', "APPENDS")                   \
  X(kGet, 'g', "GET")                           \
  X(kBinGet, 'h', "BINGET")                     \
  X(kInst, 'i', "INST")                         \
  X(kLongBinGet, 'j', "LONG_BINGET")            \
  X(kList, 'l', "LIST")                         \
  X(kEmptyList, ']', "EMPTY_LIST")              \
  X(kObj, 'o', "OBJ")                           \
  X(kPut, 'p', "PUT")                           \
  X(kBinPut, 'q', "BINPUT")                     \
  X(kLongBinPut, 'r', "LONG_BINPUT")            \
  X(kSetItem, 's', "SETITEM")                   \
  X(kTuple, 't', "TUPLE")                       \
  X(kEmptyTuple, ')', "EMPTY_TUPLE")            \
  X(kSetItems, 'u', "SETITEMS")                 \
  X(kBinFloat, 'G', "BINFLOAT")                 \
  X(kProto, 0x80, "PROTO")                      \
  X(kNewObj, 0x81, "NEWOBJ")                    \
  X(kExt1, 0x82, "EXT1")                        \
  X(kExt2, 0x83, "EXT2")                        \
  X(kExt4, 0x84, "EXT4")                        \
  X(kTuple1, 0x85, "TUPLE1")                    \
  X(kTuple2, 0x86, "TUPLE2")                    \
  X(kTuple3, 0x87, "TUPLE3")                    \
  X(kNewTrue, 0x88, "NEWTRUE")                  \
  X(kNewFalse, 0x89, "NEWFALSE")                \
  X(kLong1, 0x8a, "LONG1")                      \
  X(kLong4, 0x8b, "LONG4")                      \
  X(kBinBytes, 'B', "BINBYTES")                 \
  X(kShortBinBytes, 'C', "SHORT_BINBYTES")      \
  X(kShortBinUnicode, 0x8c, "SHORT_BINUNICODE") \
  X(kBinUnicode8, 0x8d, "BINUNICODE8")          \
  X(kBinBytes8, 0x8e, "BINBYTES8")              \
  X(kEmptySet, 0x8f, "EMPTY_SET")               \
  X(kAddItems, 0x90, "ADDITEMS")                \
  X(kFrozenSet, 0x91, "FROZENSET")              \
  X(kNewObjEx, 0x92, "NEWOBJ_EX")               \
  X(kStackGlobal, 0x93, "STACK_GLOBAL")         \
  X(kMemoize, 0x94, "MEMOIZE")                  \
  X(kFrame, 0x95, "FRAME")                      \
  X(kByteArray8, 0x96, "BYTEARRAY8")            \
  X(kNextBuffer, 0x97, "NEXT_BUFFER")           \
  X(kReadOnlyBuffer, 0x98, "READONLY_BUFFER")

enum Op : uint8_t {
#define LMEYE_PICKLE_OP_ENUM(id, byte, name) id = byte,
  LMEYE_PICKLE_OPCODES(LMEYE_PICKLE_OP_ENUM)
#undef LMEYE_PICKLE_OP_ENUM
};

std::string OpName(uint8_t op) {
  switch (op) {
#define LMEYE_PICKLE_OP_NAME(id, byte, name) \
  case id:                                   \
    return name;
    LMEYE_PICKLE_OPCODES(LMEYE_PICKLE_OP_NAME)
#undef LMEYE_PICKLE_OP_NAME
  }
  return absl::StrFormat("0x%02x", op);
}

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

class Unpickler {
 public:
  Unpickler(absl::string_view data, size_t offset, const UnpickleOptions& options,
            PickleArena& arena)
      : data_(data), pos_(offset), options_(options), limits_(options.limits), arena_(arena) {}

  absl::StatusOr<UnpickleResult> Run() {
    if (pos_ >= data_.size()) {
      return Bad(absl::StrCat("pickle byte ", pos_, ": no pickle here (end of data)"));
    }
    while (true) {
      const size_t op_start = pos_;
      if (pos_ >= data_.size()) {
        return Bad(absl::StrCat("pickle byte ", pos_, ": data ends before the STOP opcode"));
      }
      const uint8_t op = static_cast<uint8_t>(data_[pos_++]);
      absl::Status s = Step(op);
      if (!s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("pickle byte ", op_start, " (", OpName(op), "): ", s.message()));
      }
      if (result_ != nullptr) return UnpickleResult{result_, pos_};
    }
  }

 private:
  // --- input ---
  absl::StatusOr<absl::string_view> Take(uint64_t n) {
    if (n > data_.size() - pos_) {
      return Bad(absl::StrCat("truncated: needs ", n, " bytes, ", data_.size() - pos_, " left"));
    }
    absl::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  absl::StatusOr<uint64_t> TakeLE(int n_bytes) {
    LMEYE_ASSIGN_OR_RETURN(absl::string_view b, Take(n_bytes));
    uint64_t v = 0;
    for (int i = n_bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  // A protocol-0 argument: the text up to the next newline (not included).
  absl::StatusOr<absl::string_view> TakeLine() {
    const size_t window = std::min(data_.size() - pos_, limits_.max_text_line + 1);
    const size_t nl = data_.substr(pos_, window).find('\n');
    if (nl == absl::string_view::npos) {
      return Bad(absl::StrCat("no newline within ", limits_.max_text_line, " bytes"));
    }
    absl::string_view line = data_.substr(pos_, nl);
    pos_ += nl + 1;
    return line;
  }

  // --- stack ---
  size_t Base() const { return marks_.empty() ? 0 : marks_.back(); }
  absl::Status Push(PickleValue* v) {
    if (stack_.size() + marks_.size() >= limits_.max_stack) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", limits_.max_stack, " values on the stack"));
    }
    stack_.push_back(v);
    return absl::OkStatus();
  }
  absl::StatusOr<PickleValue*> Pop() {
    if (stack_.size() <= Base()) return Bad("stack underflow");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  absl::StatusOr<PickleValue*> Top() {
    if (stack_.size() <= Base()) return Bad("stack underflow");
    return stack_.back();
  }
  absl::StatusOr<std::vector<PickleValue*>> PopToMark() {
    if (marks_.empty()) return Bad("no MARK on the stack");
    std::vector<PickleValue*> items(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  absl::StatusOr<PickleValue*> New(PickleKind kind) { return arena_.New(kind); }
  absl::Status PushNew(PickleKind kind, PickleValue** out = nullptr) {
    LMEYE_ASSIGN_OR_RETURN(PickleValue * v, New(kind));
    if (out != nullptr) *out = v;
    return Push(v);
  }
  // Appends `item` to a container, keeping the nesting bound.
  absl::Status Insert(PickleValue* container, PickleValue* item) {
    const uint32_t depth = item->depth + 1;
    if (depth > limits_.max_depth) {
      return Bad(absl::StrCat("values nested deeper than ", limits_.max_depth));
    }
    container->depth = std::max(container->depth, depth);
    container->items.push_back(item);
    return absl::OkStatus();
  }
  absl::Status PushContainer(PickleKind kind, const std::vector<PickleValue*>& items) {
    LMEYE_ASSIGN_OR_RETURN(PickleValue * v, New(kind));
    v->items.reserve(items.size());
    for (PickleValue* item : items) LMEYE_RETURN_IF_ERROR(Insert(v, item));
    return Push(v);
  }
  absl::StatusOr<PickleValue*> TopOfKind(PickleKind kind) {
    LMEYE_ASSIGN_OR_RETURN(PickleValue * v, Top());
    if (v->kind != kind) {
      return Bad(absl::StrCat("expects a ", PickleKindName(kind), " below, found ",
                              PickleKindName(v->kind)));
    }
    return v;
  }
  absl::Status AddPairs(PickleValue* dict, const std::vector<PickleValue*>& items) {
    if (items.size() % 2 != 0) return Bad("odd number of items for a dict");
    for (PickleValue* item : items) LMEYE_RETURN_IF_ERROR(Insert(dict, item));
    return absl::OkStatus();
  }

  // --- memo ---
  absl::Status Put(uint64_t index) {
    LMEYE_ASSIGN_OR_RETURN(PickleValue * v, Top());
    auto it = memo_.find(index);
    if (it != memo_.end()) {
      it->second = v;
      return absl::OkStatus();
    }
    if (memo_.size() >= limits_.max_memo) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", limits_.max_memo, " memo entries"));
    }
    memo_.emplace(index, v);
    return absl::OkStatus();
  }
  absl::Status Get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return Bad(absl::StrCat("memo entry ", index, " was never stored"));
    return Push(it->second);
  }
  absl::StatusOr<uint64_t> ParseIndex(absl::string_view text) {
    uint64_t index = 0;
    if (!absl::SimpleAtoi(text, &index)) return Bad("memo index is not a number");
    return index;
  }

  // --- scalars ---
  absl::Status PushInt(int64_t v) {
    PickleValue* p = nullptr;
    LMEYE_RETURN_IF_ERROR(PushNew(PickleKind::kInt, &p));
    p->integer = v;
    return absl::OkStatus();
  }
  absl::Status PushBool(bool v) {
    PickleValue* p = nullptr;
    LMEYE_RETURN_IF_ERROR(PushNew(PickleKind::kBool, &p));
    p->boolean = v;
    return absl::OkStatus();
  }
  absl::Status PushText(PickleKind kind, absl::string_view text) {
    PickleValue* p = nullptr;
    LMEYE_RETURN_IF_ERROR(PushNew(kind, &p));
    p->text.assign(text.data(), text.size());
    return absl::OkStatus();
  }
  // LONG1 / LONG4: little-endian two's complement of any length.
  absl::Status PushLong(absl::string_view bytes) {
    const size_t n = bytes.size();
    if (n == 0) return PushInt(0);
    const uint8_t sign_byte = (static_cast<uint8_t>(bytes[n - 1]) & 0x80) ? 0xff : 0x00;
    // Redundant sign bytes above the low 8 do not change the value.
    size_t significant = n;
    while (significant > 8 && static_cast<uint8_t>(bytes[significant - 1]) == sign_byte) {
      --significant;
    }
    const bool fits = n <= 8 || (significant == 8 &&
                                 (static_cast<uint8_t>(bytes[7]) & 0x80) == (sign_byte & 0x80));
    if (!fits) return PushText(PickleKind::kBigInt, bytes);
    uint64_t v = sign_byte == 0xff ? ~uint64_t{0} : 0;
    for (size_t i = std::min<size_t>(significant, 8); i-- > 0;) {
      v = (v << 8) | static_cast<uint8_t>(bytes[i]);
    }
    return PushInt(static_cast<int64_t>(v));
  }
  absl::Status PushSizedText(PickleKind kind, int length_bytes) {
    LMEYE_ASSIGN_OR_RETURN(uint64_t n, TakeLE(length_bytes));
    LMEYE_ASSIGN_OR_RETURN(absl::string_view text, Take(n));
    return PushText(kind, text);
  }

  // --- globals and calls ---
  absl::Status PushGlobal(absl::string_view module, absl::string_view name) {
    const std::string full = absl::StrCat(module, ".", name);
    if (options_.globals.find(full) == options_.globals.end()) {
      return Bad(absl::StrCat("global ", full,
                              " is not allowed (only torch's tensor-rebuilding functions, storage "
                              "types and collections.OrderedDict are)"));
    }
    return PushText(PickleKind::kGlobal, full);
  }
  absl::Status Call(const PickleValue* callable, const PickleValue* args) {
    if (callable->kind != PickleKind::kGlobal) {
      return Bad(absl::StrCat("cannot call a ", PickleKindName(callable->kind)));
    }
    if (args->kind != PickleKind::kTuple) {
      return Bad(absl::StrCat(callable->text, ": arguments are a ", PickleKindName(args->kind),
                              ", not a tuple"));
    }
    auto it = options_.globals.find(callable->text);
    if (it == options_.globals.end() || !it->second) {
      return Bad(absl::StrCat(callable->text, " cannot be called"));
    }
    absl::StatusOr<PickleValue*> made = it->second(arena_, *args);
    if (!made.ok()) {
      return absl::Status(made.status().code(),
                          absl::StrCat(callable->text, ": ", made.status().message()));
    }
    return Push(*made);
  }
  absl::Status PersistentLoad(const PickleValue* pid) {
    if (!options_.persistent_load) return Bad("persistent ids are not expected here");
    LMEYE_ASSIGN_OR_RETURN(PickleValue * v, options_.persistent_load(arena_, *pid));
    return Push(v);
  }

  absl::Status Step(uint8_t op);

  absl::string_view data_;
  size_t pos_;
  const UnpickleOptions& options_;
  const PickleLimits& limits_;
  PickleArena& arena_;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<uint64_t, PickleValue*> memo_;
  PickleValue* result_ = nullptr;
};

absl::Status Unpickler::Step(uint8_t op) {
  switch (op) {
    case kProto: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t version, TakeLE(1));
      if (version > 5) return Bad(absl::StrCat("unsupported pickle protocol ", version));
      return absl::OkStatus();
    }
    case kFrame: {
      // Frames only group opcodes for buffered reading; the opcodes inside are read as usual.
      LMEYE_ASSIGN_OR_RETURN(uint64_t n, TakeLE(8));
      if (n > data_.size() - pos_) return Bad(absl::StrCat("frame of ", n, " bytes is truncated"));
      return absl::OkStatus();
    }
    case kStop: {
      LMEYE_ASSIGN_OR_RETURN(result_, Pop());
      return absl::OkStatus();
    }
    case kMark:
      if (stack_.size() + marks_.size() >= limits_.max_stack) {
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", limits_.max_stack, " values on the stack"));
      }
      marks_.push_back(stack_.size());
      return absl::OkStatus();
    case kPop:
      // As CPython: with nothing above the last mark, POP discards the mark.
      if (stack_.size() > Base()) {
        stack_.pop_back();
      } else if (!marks_.empty()) {
        marks_.pop_back();
      } else {
        return Bad("stack underflow");
      }
      return absl::OkStatus();
    case kPopMark:
      return PopToMark().status();
    case kDup: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * v, Top());
      return Push(v);
    }
    case kNone:
      return PushNew(PickleKind::kNone);
    case kNewTrue:
      return PushBool(true);
    case kNewFalse:
      return PushBool(false);
    case kInt: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view line, TakeLine());
      if (line == "01") return PushBool(true);
      if (line == "00") return PushBool(false);
      int64_t v = 0;
      if (!absl::SimpleAtoi(line, &v)) return Bad("not an int64");
      return PushInt(v);
    }
    case kLong: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view line, TakeLine());
      if (!line.empty() && line.back() == 'L') line.remove_suffix(1);
      int64_t v = 0;
      if (!absl::SimpleAtoi(line, &v)) return Bad("not an int64");
      return PushInt(v);
    }
    case kBinInt: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t v, TakeLE(4));
      return PushInt(static_cast<int32_t>(static_cast<uint32_t>(v)));
    }
    case kBinInt1: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t v, TakeLE(1));
      return PushInt(static_cast<int64_t>(v));
    }
    case kBinInt2: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t v, TakeLE(2));
      return PushInt(static_cast<int64_t>(v));
    }
    case kLong1: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t n, TakeLE(1));
      LMEYE_ASSIGN_OR_RETURN(absl::string_view bytes, Take(n));
      return PushLong(bytes);
    }
    case kLong4: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t n, TakeLE(4));
      if (static_cast<int32_t>(static_cast<uint32_t>(n)) < 0) return Bad("negative length");
      LMEYE_ASSIGN_OR_RETURN(absl::string_view bytes, Take(n));
      return PushLong(bytes);
    }
    case kFloat: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view line, TakeLine());
      PickleValue* p = nullptr;
      double v = 0;
      if (!absl::SimpleAtod(line, &v)) return Bad("not a float");
      LMEYE_RETURN_IF_ERROR(PushNew(PickleKind::kFloat, &p));
      p->real = v;
      return absl::OkStatus();
    }
    case kBinFloat: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view b, Take(8));
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(b[i]);  // big-endian
      PickleValue* p = nullptr;
      LMEYE_RETURN_IF_ERROR(PushNew(PickleKind::kFloat, &p));
      std::memcpy(&p->real, &bits, sizeof(bits));
      return absl::OkStatus();
    }
    case kBinUnicode:
      return PushSizedText(PickleKind::kString, 4);
    case kShortBinUnicode:
      return PushSizedText(PickleKind::kString, 1);
    case kBinUnicode8:
      return PushSizedText(PickleKind::kString, 8);
    case kBinString: {
      // Python 2 str; torch.load decodes it as text.
      LMEYE_ASSIGN_OR_RETURN(uint64_t n, TakeLE(4));
      if (static_cast<int32_t>(static_cast<uint32_t>(n)) < 0) return Bad("negative length");
      LMEYE_ASSIGN_OR_RETURN(absl::string_view text, Take(n));
      return PushText(PickleKind::kString, text);
    }
    case kShortBinString:
      return PushSizedText(PickleKind::kString, 1);
    case kBinBytes:
      return PushSizedText(PickleKind::kBytes, 4);
    case kShortBinBytes:
      return PushSizedText(PickleKind::kBytes, 1);
    case kBinBytes8:
    case kByteArray8:
      return PushSizedText(PickleKind::kBytes, 8);
    case kEmptyList:
      return PushNew(PickleKind::kList);
    case kEmptyTuple:
      return PushNew(PickleKind::kTuple);
    case kEmptyDict:
      return PushNew(PickleKind::kDict);
    case kEmptySet:
      return PushNew(PickleKind::kSet);
    case kAppend: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * v, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * list, TopOfKind(PickleKind::kList));
      return Insert(list, v);
    }
    case kAppends:
    case kAddItems: {
      LMEYE_ASSIGN_OR_RETURN(std::vector<PickleValue*> items, PopToMark());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * target,
                             TopOfKind(op == kAppends ? PickleKind::kList : PickleKind::kSet));
      for (PickleValue* item : items) LMEYE_RETURN_IF_ERROR(Insert(target, item));
      return absl::OkStatus();
    }
    case kList:
    case kTuple:
    case kFrozenSet: {
      LMEYE_ASSIGN_OR_RETURN(std::vector<PickleValue*> items, PopToMark());
      const PickleKind kind = op == kList    ? PickleKind::kList
                              : op == kTuple ? PickleKind::kTuple
                                             : PickleKind::kSet;
      return PushContainer(kind, items);
    }
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      const size_t n = op - kTuple1 + 1;
      std::vector<PickleValue*> items(n);
      for (size_t i = n; i-- > 0;) {
        LMEYE_ASSIGN_OR_RETURN(items[i], Pop());
      }
      return PushContainer(PickleKind::kTuple, items);
    }
    case kDict: {
      LMEYE_ASSIGN_OR_RETURN(std::vector<PickleValue*> items, PopToMark());
      PickleValue* dict = nullptr;
      LMEYE_RETURN_IF_ERROR(PushNew(PickleKind::kDict, &dict));
      return AddPairs(dict, items);
    }
    case kSetItem: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * value, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * key, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * dict, TopOfKind(PickleKind::kDict));
      return AddPairs(dict, {key, value});
    }
    case kSetItems: {
      LMEYE_ASSIGN_OR_RETURN(std::vector<PickleValue*> items, PopToMark());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * dict, TopOfKind(PickleKind::kDict));
      return AddPairs(dict, items);
    }
    case kGet: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view line, TakeLine());
      LMEYE_ASSIGN_OR_RETURN(uint64_t index, ParseIndex(line));
      return Get(index);
    }
    case kBinGet: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t index, TakeLE(1));
      return Get(index);
    }
    case kLongBinGet: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t index, TakeLE(4));
      return Get(index);
    }
    case kPut: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view line, TakeLine());
      LMEYE_ASSIGN_OR_RETURN(uint64_t index, ParseIndex(line));
      return Put(index);
    }
    case kBinPut: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t index, TakeLE(1));
      return Put(index);
    }
    case kLongBinPut: {
      LMEYE_ASSIGN_OR_RETURN(uint64_t index, TakeLE(4));
      return Put(index);
    }
    case kMemoize:
      return Put(memo_.size());
    case kGlobal: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view module, TakeLine());
      LMEYE_ASSIGN_OR_RETURN(absl::string_view name, TakeLine());
      return PushGlobal(module, name);
    }
    case kStackGlobal: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * name, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * module, Pop());
      if (module->kind != PickleKind::kString || name->kind != PickleKind::kString) {
        return Bad("module and name must be strings");
      }
      return PushGlobal(module->text, name->text);
    }
    case kReduce:
    case kNewObj: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * args, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * callable, Pop());
      return Call(callable, args);
    }
    case kNewObjEx: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * kwargs, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * args, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * cls, Pop());
      if (kwargs->kind != PickleKind::kDict || !kwargs->items.empty()) {
        return Bad("keyword arguments are not supported");
      }
      return Call(cls, args);
    }
    case kBuild: {
      // The only BUILD torch files contain sets the attributes of a state dict (an OrderedDict
      // with `_metadata`, which holds module versions); they do not change the tensors.
      LMEYE_ASSIGN_OR_RETURN(PickleValue * state, Pop());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * target, Top());
      if (target->kind != PickleKind::kDict) {
        return Bad(absl::StrCat("cannot set the state of a ", PickleKindName(target->kind)));
      }
      if (state->kind != PickleKind::kDict && state->kind != PickleKind::kTuple &&
          state->kind != PickleKind::kNone) {
        return Bad(absl::StrCat("state is a ", PickleKindName(state->kind)));
      }
      return absl::OkStatus();
    }
    case kPersId: {
      LMEYE_ASSIGN_OR_RETURN(absl::string_view line, TakeLine());
      LMEYE_ASSIGN_OR_RETURN(PickleValue * pid, New(PickleKind::kString));
      pid->text.assign(line.data(), line.size());
      return PersistentLoad(pid);
    }
    case kBinPersId: {
      LMEYE_ASSIGN_OR_RETURN(PickleValue * pid, Pop());
      return PersistentLoad(pid);
    }
    case kInst:
    case kObj:
    case kExt1:
    case kExt2:
    case kExt4:
    case kString:
    case kUnicode:
    case kNextBuffer:
    case kReadOnlyBuffer:
      return Bad("opcode not supported in torch checkpoints");
    default:
      return Bad(absl::StrFormat("unknown opcode 0x%02x", op));
  }
}

}  // namespace

const PickleValue* PickleValue::DictGet(absl::string_view key) const {
  if (kind != PickleKind::kDict) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i]->kind == PickleKind::kString && items[i]->text == key) return items[i + 1];
  }
  return nullptr;
}

absl::string_view PickleKindName(PickleKind kind) {
  switch (kind) {
    case PickleKind::kNone:
      return "None";
    case PickleKind::kBool:
      return "bool";
    case PickleKind::kInt:
      return "int";
    case PickleKind::kBigInt:
      return "big int";
    case PickleKind::kFloat:
      return "float";
    case PickleKind::kString:
      return "str";
    case PickleKind::kBytes:
      return "bytes";
    case PickleKind::kTuple:
      return "tuple";
    case PickleKind::kList:
      return "list";
    case PickleKind::kDict:
      return "dict";
    case PickleKind::kSet:
      return "set";
    case PickleKind::kGlobal:
      return "global";
    case PickleKind::kExternal:
      return "object";
  }
  return "?";
}

std::string DescribePickleValue(const PickleValue& v) {
  switch (v.kind) {
    case PickleKind::kNone:
      return "None";
    case PickleKind::kBool:
      return v.boolean ? "bool True" : "bool False";
    case PickleKind::kInt:
      return absl::StrCat("int ", v.integer);
    case PickleKind::kBigInt:
      return absl::StrCat("int (", v.text.size(), " bytes)");
    case PickleKind::kFloat:
      return absl::StrCat("float ", v.real);
    case PickleKind::kString:
      return v.text.size() <= 40 ? absl::StrCat("str '", v.text, "'")
                                 : absl::StrCat("str '", v.text.substr(0, 37), "...'");
    case PickleKind::kBytes:
      return absl::StrCat("bytes (", v.text.size(), ")");
    case PickleKind::kTuple:
    case PickleKind::kList:
    case PickleKind::kSet:
      return absl::StrCat(PickleKindName(v.kind), " (", v.items.size(), " items)");
    case PickleKind::kDict:
      return absl::StrCat("dict (", v.dict_size(), " entries)");
    case PickleKind::kGlobal:
      return absl::StrCat("global ", v.text);
    case PickleKind::kExternal:
      return v.text;
  }
  return "?";
}

absl::StatusOr<PickleValue*> PickleArena::New(PickleKind kind) {
  if (values_.size() >= max_values_) {
    return absl::ResourceExhaustedError(absl::StrCat("more than ", max_values_, " values"));
  }
  values_.emplace_back();
  values_.back().kind = kind;
  return &values_.back();
}

absl::StatusOr<UnpickleResult> Unpickle(absl::string_view data, size_t offset,
                                        const UnpickleOptions& options, PickleArena& arena) {
  return Unpickler(data, offset, options, arena).Run();
}

}  // namespace lmeye
