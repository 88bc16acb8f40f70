#include "model/io/torch_rebuild.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// Tensors have at most this many dimensions (libtorch's own limit is higher, checkpoints' far
// lower); it bounds the work per tensor record.
constexpr size_t kMaxDims = 64;

struct StorageTypeEntry {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageTypeEntry kStorageTypes[] = {
    {"HalfStorage", at::kHalf},   {"BFloat16Storage", at::kBFloat16},
    {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble},
    {"LongStorage", at::kLong},   {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort}, {"CharStorage", at::kChar},
    {"ByteStorage", at::kByte},   {"BoolStorage", at::kBool},
};

// Dtype objects pickle as globals (torch.float16 ...); admitted as plain values.
constexpr const char* kDTypeNames[] = {"float16", "bfloat16", "float32", "float64", "int64",
                                       "int32",   "int16",    "int8",    "uint8",   "bool"};

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<int64_t> IntArg(const PickleValue& v, absl::string_view what) {
  if (v.kind != PickleKind::kInt) {
    return Bad(absl::StrCat(what, " is a ", PickleKindName(v.kind), ", not an int"));
  }
  return v.integer;
}

absl::StatusOr<bool> BoolArg(const PickleValue& v, absl::string_view what) {
  if (v.kind != PickleKind::kBool) {
    return Bad(absl::StrCat(what, " is a ", PickleKindName(v.kind), ", not a bool"));
  }
  return v.boolean;
}

absl::StatusOr<std::vector<int64_t>> IntTuple(const PickleValue& v, absl::string_view what) {
  if (v.kind != PickleKind::kTuple) {
    return Bad(absl::StrCat(what, " is a ", PickleKindName(v.kind), ", not a tuple"));
  }
  if (v.items.size() > kMaxDims) return Bad(absl::StrCat(what, " has more than 64 dimensions"));
  std::vector<int64_t> out;
  for (const PickleValue* item : v.items) {
    LMEYE_ASSIGN_OR_RETURN(int64_t x, IntArg(*item, what));
    if (x < 0) return Bad(absl::StrCat(what, " has a negative entry ", x));
    out.push_back(x);
  }
  return out;
}

absl::Status ExpectArgs(const PickleValue& args, size_t min, size_t max) {
  if (args.items.size() < min || args.items.size() > max) {
    return Bad(absl::StrCat("takes ", min == max ? "" : "from ", min,
                            max == min ? "" : absl::StrCat(" to ", max), " arguments, got ",
                            args.items.size()));
  }
  return absl::OkStatus();
}

std::string Describe(const TorchTensorRecord& t) {
  return absl::StrCat(t.is_parameter ? "parameter " : "tensor ", c10::toString(t.dtype), " [",
                      absl::StrJoin(t.shape, ", "), "]");
}

// collections.OrderedDict() or OrderedDict([(key, value), ...]): a dict in insertion order.
absl::StatusOr<PickleValue*> MakeOrderedDict(PickleArena& arena, const PickleValue& args) {
  LMEYE_RETURN_IF_ERROR(ExpectArgs(args, 0, 1));
  LMEYE_ASSIGN_OR_RETURN(PickleValue * dict, arena.New(PickleKind::kDict));
  if (args.items.empty()) return dict;
  const PickleValue& pairs = *args.items[0];
  if (pairs.kind != PickleKind::kList && pairs.kind != PickleKind::kTuple) {
    return Bad("argument is not a list of pairs");
  }
  for (PickleValue* pair : pairs.items) {
    if ((pair->kind != PickleKind::kList && pair->kind != PickleKind::kTuple) ||
        pair->items.size() != 2) {
      return Bad("argument is not a list of pairs");
    }
    dict->items.push_back(pair->items[0]);
    dict->items.push_back(pair->items[1]);
    dict->depth = std::max(dict->depth, pair->depth);
  }
  return dict;
}

// torch.Size((d0, d1, ...)): a tuple.
absl::StatusOr<PickleValue*> MakeSize(PickleArena&, const PickleValue& args) {
  LMEYE_RETURN_IF_ERROR(ExpectArgs(args, 1, 1));
  LMEYE_RETURN_IF_ERROR(IntTuple(*args.items[0], "size").status());
  return args.items[0];
}

// torch.jit._pickle.restore_type_tag(value, type_string), which libtorch's torch::pickle_save
// wraps its value in: the value itself.
absl::StatusOr<PickleValue*> RestoreTypeTag(PickleArena&, const PickleValue& args) {
  LMEYE_RETURN_IF_ERROR(ExpectArgs(args, 2, 2));
  return args.items[0];
}

}  // namespace

bool TorchStorageDType(absl::string_view storage_type, at::ScalarType* dtype) {
  for (const StorageTypeEntry& e : kStorageTypes) {
    if (storage_type == e.name) {
      *dtype = e.dtype;
      return true;
    }
  }
  return false;
}

absl::StatusOr<TorchExtent> CheckTensorExtent(const TorchTensorRecord& t,
                                              const TorchStorage& storage) {
  if (t.dtype != storage.dtype) {
    return Bad(absl::StrCat("is ", c10::toString(t.dtype), " but its storage '", storage.key,
                            "' holds ", c10::toString(storage.dtype)));
  }
  if (t.shape.size() != t.stride.size() || t.shape.size() > kMaxDims) {
    return Bad(absl::StrCat(t.shape.size(), " sizes but ", t.stride.size(), " strides"));
  }
  TorchExtent e;
  e.begin = t.storage_offset;
  e.numel = 1;
  int64_t last = t.storage_offset;  // highest element index read
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] < 0 || t.stride[d] < 0) return Bad("negative size or stride");
    if (__builtin_mul_overflow(e.numel, t.shape[d], &e.numel)) return Bad("size overflows");
  }
  if (t.storage_offset < 0) return Bad("negative storage offset");
  if (e.numel == 0) {
    e.end = e.begin;
    return e;
  }
  for (size_t d = 0; d < t.shape.size(); ++d) {
    int64_t reach = 0;
    if (__builtin_mul_overflow(t.shape[d] - 1, t.stride[d], &reach) ||
        __builtin_add_overflow(last, reach, &last)) {
      return Bad("strides overflow");
    }
  }
  if (last >= storage.numel) {
    return Bad(absl::StrCat("needs elements [", t.storage_offset, ", ", last + 1, ") of storage '",
                            storage.key, "', which holds ", storage.numel));
  }
  if (e.numel > storage.numel) {
    return Bad(absl::StrCat("has ", e.numel, " elements but its storage '", storage.key,
                            "' holds only ", storage.numel,
                            " (broadcast views are not supported)"));
  }
  e.end = last + 1;
  return e;
}

TorchRebuilder::TorchRebuilder(IdStyle style, uint64_t max_storage_bytes,
                               std::function<absl::Status(TorchStorage&)> on_new_storage)
    : style_(style),
      max_storage_bytes_(max_storage_bytes),
      on_new_storage_(std::move(on_new_storage)) {
  auto& g = options_.globals;
  g["collections.OrderedDict"] = MakeOrderedDict;
  g["torch.Size"] = MakeSize;
  g["torch.jit._pickle.restore_type_tag"] = RestoreTypeTag;
  g["torch._utils._rebuild_tensor_v2"] = [this](PickleArena& arena, const PickleValue& args) {
    return RebuildTensor(arena, args);
  };
  auto parameter = [this](PickleArena& arena, const PickleValue& args) {
    return RebuildParameter(arena, args);
  };
  g["torch._utils._rebuild_parameter"] = parameter;
  g["torch._utils._rebuild_parameter_with_state"] = parameter;
  for (const StorageTypeEntry& e : kStorageTypes) g[absl::StrCat("torch.", e.name)] = nullptr;
  for (const char* name : kDTypeNames) g[absl::StrCat("torch.", name)] = nullptr;
  options_.persistent_load = [this](PickleArena& arena, const PickleValue& pid) {
    return LoadStorage(arena, pid);
  };
}

int64_t TorchRebuilder::FindStorage(absl::string_view key) const {
  auto it = storage_index_.find(std::string(key));
  return it == storage_index_.end() ? -1 : static_cast<int64_t>(it->second);
}

const TorchTensorRecord* TorchRebuilder::TensorOf(const PickleValue* value) const {
  const int64_t index = TensorIndex(value);
  return index < 0 ? nullptr : &tensors_[index];
}

int64_t TorchRebuilder::TensorIndex(const PickleValue* value) const {
  auto it = tensor_of_.find(value);
  return it == tensor_of_.end() ? -1 : static_cast<int64_t>(it->second);
}

absl::StatusOr<PickleValue*> TorchRebuilder::LoadStorage(PickleArena& arena,
                                                         const PickleValue& pid) {
  const size_t n_fields = style_ == IdStyle::kZip ? 5 : 6;
  if (pid.kind != PickleKind::kTuple || pid.items.empty() ||
      pid.items[0]->kind != PickleKind::kString) {
    return Bad("persistent id is not a ('storage', ...) tuple");
  }
  if (pid.items[0]->text != "storage") {
    return Bad(absl::StrCat("persistent id of kind '", pid.items[0]->text,
                            "' is not supported (only storages are)"));
  }
  if (pid.items.size() != n_fields) {
    return Bad(absl::StrCat("storage persistent id has ", pid.items.size(), " fields, expected ",
                            n_fields));
  }
  const PickleValue& type = *pid.items[1];
  const PickleValue& key = *pid.items[2];
  at::ScalarType dtype;
  if (type.kind != PickleKind::kGlobal || type.text.rfind("torch.", 0) != 0 ||
      !TorchStorageDType(absl::string_view(type.text).substr(6), &dtype)) {
    return Bad(
        absl::StrCat("storage type is ", DescribePickleValue(type), ", not a torch storage type"));
  }
  if (key.kind != PickleKind::kString) return Bad("storage key is not a string");
  if (pid.items[3]->kind != PickleKind::kString) return Bad("storage location is not a string");
  LMEYE_ASSIGN_OR_RETURN(int64_t numel, IntArg(*pid.items[4], "storage size"));
  if (style_ == IdStyle::kLegacy && pid.items[5]->kind != PickleKind::kNone) {
    return Bad(absl::StrCat("storage '", key.text,
                            "' is a view of another storage (files of torch < 1.0 are not "
                            "supported)"));
  }
  const uint64_t element = at::elementSize(dtype);
  if (numel < 0 || static_cast<uint64_t>(numel) > max_storage_bytes_ / element) {
    return Bad(absl::StrCat("storage '", key.text, "' declares ", numel,
                            " elements, more than the file holds"));
  }
  size_t index;
  auto it = storage_index_.find(key.text);
  if (it != storage_index_.end()) {
    index = it->second;
    const TorchStorage& seen = storages_[index];
    if (seen.dtype != dtype || seen.numel != numel) {
      return Bad(absl::StrCat("storage '", key.text, "' is declared as ", numel, " x ",
                              c10::toString(dtype), " after ", seen.numel, " x ",
                              c10::toString(seen.dtype)));
    }
  } else {
    TorchStorage storage;
    storage.key = key.text;
    storage.dtype = dtype;
    storage.numel = numel;
    LMEYE_RETURN_IF_ERROR(on_new_storage_(storage));
    index = storages_.size();
    storages_.push_back(std::move(storage));
    storage_index_.emplace(key.text, index);
  }
  LMEYE_ASSIGN_OR_RETURN(PickleValue * value, arena.New(PickleKind::kExternal));
  value->integer = static_cast<int64_t>(index);
  value->text = absl::StrCat("storage '", key.text, "'");
  storage_of_.emplace(value, index);
  return value;
}

absl::StatusOr<PickleValue*> TorchRebuilder::NewTensorValue(PickleArena& arena,
                                                            TorchTensorRecord record) {
  LMEYE_ASSIGN_OR_RETURN(PickleValue * value, arena.New(PickleKind::kExternal));
  value->integer = static_cast<int64_t>(tensors_.size());
  value->text = Describe(record);
  tensor_of_.emplace(value, tensors_.size());
  tensors_.push_back(std::move(record));
  return value;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
// [, metadata]); hooks and metadata do not change the values and are ignored.
absl::StatusOr<PickleValue*> TorchRebuilder::RebuildTensor(PickleArena& arena,
                                                           const PickleValue& args) {
  LMEYE_RETURN_IF_ERROR(ExpectArgs(args, 6, 7));
  auto storage = storage_of_.find(args.items[0]);
  if (storage == storage_of_.end()) {
    return Bad(
        absl::StrCat("first argument is ", DescribePickleValue(*args.items[0]), ", not a storage"));
  }
  TorchTensorRecord t;
  t.storage = storage->second;
  t.dtype = storages_[t.storage].dtype;
  LMEYE_ASSIGN_OR_RETURN(t.storage_offset, IntArg(*args.items[1], "storage offset"));
  LMEYE_ASSIGN_OR_RETURN(t.shape, IntTuple(*args.items[2], "size"));
  LMEYE_ASSIGN_OR_RETURN(t.stride, IntTuple(*args.items[3], "stride"));
  LMEYE_ASSIGN_OR_RETURN(t.requires_grad, BoolArg(*args.items[4], "requires_grad"));
  if (t.storage_offset < 0) return Bad("negative storage offset");
  if (t.shape.size() != t.stride.size()) {
    return Bad(absl::StrCat(t.shape.size(), " sizes but ", t.stride.size(), " strides"));
  }
  return NewTensorValue(arena, std::move(t));
}

// _rebuild_parameter(data, requires_grad, backward_hooks) and
// _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state): torch.nn.Parameter.
absl::StatusOr<PickleValue*> TorchRebuilder::RebuildParameter(PickleArena& arena,
                                                              const PickleValue& args) {
  LMEYE_RETURN_IF_ERROR(ExpectArgs(args, 3, 4));
  const TorchTensorRecord* data = TensorOf(args.items[0]);
  if (data == nullptr) {
    return Bad(
        absl::StrCat("first argument is ", DescribePickleValue(*args.items[0]), ", not a tensor"));
  }
  TorchTensorRecord t = *data;
  LMEYE_ASSIGN_OR_RETURN(t.requires_grad, BoolArg(*args.items[1], "requires_grad"));
  t.is_parameter = true;
  return NewTensorValue(arena, std::move(t));
}

}  // namespace lmeye
