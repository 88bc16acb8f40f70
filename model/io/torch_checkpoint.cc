#include "model/io/torch_checkpoint.h"

#include <cstring>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/zip_archive.h"

namespace lmeye {
namespace {

// torch.serialization.MAGIC_NUMBER (0x1950a86a20f9469cfc6c) as the LONG1 bytes pickle writes.
constexpr char kLegacyMagic[] = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
constexpr int64_t kLegacyProtocolVersion = 1001;
constexpr char kDdpPrefix[] = "module.";

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::Status Prefixed(absl::string_view prefix, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

std::string TensorWhere(absl::string_view entry, absl::string_view key) {
  return entry.empty() ? absl::StrCat("tensor \"", key, "\"")
                       : absl::StrCat("entry \"", entry, "\", tensor \"", key, "\"");
}

uint64_t Int64At(absl::string_view bytes, uint64_t pos) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[pos + i]);
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TorchCheckpoint>> TorchCheckpoint::Open(const std::string& path) {
  auto ckpt = std::unique_ptr<TorchCheckpoint>(new TorchCheckpoint());
  absl::StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::Open(path);
  if (!file.ok()) return Prefixed(absl::StrCat("torch checkpoint ", path), file.status());
  ckpt->file_ = std::move(*file);
  LMEYE_RETURN_IF_ERROR(ckpt->Parse());
  return ckpt;
}

absl::StatusOr<std::unique_ptr<TorchCheckpoint>> TorchCheckpoint::FromBytes(std::string label,
                                                                            std::string bytes) {
  auto ckpt = std::unique_ptr<TorchCheckpoint>(new TorchCheckpoint());
  ckpt->file_ = MappedFile::FromBytes(std::move(label), std::move(bytes));
  LMEYE_RETURN_IF_ERROR(ckpt->Parse());
  return ckpt;
}

absl::Status TorchCheckpoint::Parse() {
  const absl::string_view bytes = file_->bytes();
  arena_ = std::make_unique<PickleArena>(PickleLimits().max_values);
  absl::Status s;
  if (bytes.empty()) {
    s = Bad("file is empty");
  } else if (absl::StartsWith(bytes, "PK\x03\x04")) {
    format_ = TorchFormat::kZip;
    s = ParseZip();
  } else if (bytes[0] == '\x80') {
    format_ = TorchFormat::kLegacy;
    s = ParseLegacy();
  } else if (bytes.size() > 262 && bytes.substr(257, 5) == "ustar") {
    s = Bad("a tar archive (torch < 0.4 checkpoints are not supported)");
  } else {
    s = Bad("neither a zip archive nor torch's legacy pickle format");
  }
  if (!s.ok()) return Prefixed(absl::StrCat("torch checkpoint ", path()), s);
  crc_checked_ = std::make_unique<std::atomic<bool>[]>(rebuilder_->storages().size());
  return absl::OkStatus();
}

absl::Status TorchCheckpoint::ParseZip() {
  const absl::string_view bytes = file_->bytes();
  LMEYE_ASSIGN_OR_RETURN(ZipArchive parsed, ZipArchive::Parse(bytes));
  auto zip = std::make_shared<const ZipArchive>(std::move(parsed));
  // torch names every member "<archive>/...", the archive being the file's base name.
  const ZipMember* pickle = nullptr;
  for (const ZipMember& m : zip->members()) {
    if (!absl::EndsWith(m.name, "/data.pkl") || m.name.find('/') != m.name.size() - 9) continue;
    if (pickle != nullptr) {
      return Bad(absl::StrCat("two pickles: ", pickle->name, " and ", m.name));
    }
    pickle = &m;
  }
  if (pickle == nullptr) {
    return Bad("zip archive without an <archive>/data.pkl member (not a torch.save file)");
  }
  const std::string prefix = pickle->name.substr(0, pickle->name.size() - 8);
  if (const ZipMember* order = zip->Find(prefix + "byteorder")) {
    if (ZipArchive::Bytes(bytes, *order) != "little") {
      return Bad(absl::StrCat("zip member ", order->name,
                              ": saved on a big-endian machine (not supported)"));
    }
  }
  const absl::string_view pickle_bytes = ZipArchive::Bytes(bytes, *pickle);
  if (Crc32(pickle_bytes) != pickle->crc32) {
    return Bad(absl::StrCat("zip member ", pickle->name, ": CRC-32 mismatch (corrupt data)"));
  }
  rebuilder_ = std::make_unique<TorchRebuilder>(
      TorchRebuilder::IdStyle::kZip, bytes.size(), [zip, prefix](TorchStorage& s) {
        const std::string name = absl::StrCat(prefix, "data/", s.key);
        const ZipMember* m = zip->Find(name);
        if (m == nullptr) {
          return Bad(absl::StrCat("storage '", s.key, "': zip member ", name, " is missing"));
        }
        const uint64_t expected = static_cast<uint64_t>(s.numel) * at::elementSize(s.dtype);
        if (m->size != expected) {
          return Bad(absl::StrCat("zip member ", name, " holds ", m->size,
                                  " bytes, the pickle says ", s.numel, " x ",
                                  c10::toString(s.dtype), " = ", expected));
        }
        s.data_offset = m->data_offset;
        s.has_data = true;
        s.member = name;
        s.crc32 = m->crc32;
        s.check_crc32 = true;
        return absl::OkStatus();
      });
  absl::StatusOr<UnpickleResult> result = Unpickle(pickle_bytes, 0, rebuilder_->options(), *arena_);
  if (!result.ok()) return Prefixed(absl::StrCat("zip member ", pickle->name), result.status());
  root_ = result->value;
  return absl::OkStatus();
}

absl::Status TorchCheckpoint::ParseLegacy() {
  const absl::string_view bytes = file_->bytes();
  const UnpickleOptions plain;  // the bookkeeping pickles name no globals and no storages
  auto read = [&](absl::string_view what, size_t offset,
                  const UnpickleOptions& options) -> absl::StatusOr<UnpickleResult> {
    absl::StatusOr<UnpickleResult> r = Unpickle(bytes, offset, options, *arena_);
    if (!r.ok()) return Prefixed(what, r.status());
    return r;
  };
  LMEYE_ASSIGN_OR_RETURN(UnpickleResult magic, read("magic number", 0, plain));
  if (magic.value->kind != PickleKind::kBigInt ||
      magic.value->text != absl::string_view(kLegacyMagic, sizeof(kLegacyMagic) - 1)) {
    return Bad("not a torch checkpoint (no zip header, and no legacy magic number)");
  }
  LMEYE_ASSIGN_OR_RETURN(UnpickleResult version, read("protocol version", magic.end, plain));
  if (version.value->kind != PickleKind::kInt || version.value->integer != kLegacyProtocolVersion) {
    return Bad(absl::StrCat("legacy protocol version is ", DescribePickleValue(*version.value),
                            ", expected 1001"));
  }
  LMEYE_ASSIGN_OR_RETURN(UnpickleResult info, read("system info", version.end, plain));
  if (info.value->kind != PickleKind::kDict) return Bad("system info is not a dict");
  const PickleValue* little = info.value->DictGet("little_endian");
  if (little != nullptr && (little->kind != PickleKind::kBool || !little->boolean)) {
    return Bad("saved on a big-endian machine (not supported)");
  }
  rebuilder_ = std::make_unique<TorchRebuilder>(TorchRebuilder::IdStyle::kLegacy, bytes.size(),
                                                [](TorchStorage&) { return absl::OkStatus(); });
  LMEYE_ASSIGN_OR_RETURN(UnpickleResult object,
                         read("object pickle", info.end, rebuilder_->options()));
  root_ = object.value;
  LMEYE_ASSIGN_OR_RETURN(UnpickleResult keys, read("storage key list", object.end, plain));
  if (keys.value->kind != PickleKind::kList) return Bad("storage key list is not a list");

  // The storages' bytes, in key-list order, each behind its element count.
  std::vector<TorchStorage>& storages = rebuilder_->storages();
  uint64_t pos = keys.end;
  for (const PickleValue* key : keys.value->items) {
    if (key->kind != PickleKind::kString) return Bad("storage key list holds a non-string");
    const int64_t index = rebuilder_->FindStorage(key->text);
    if (index < 0) {
      return Bad(absl::StrCat("storage key list names '", key->text, "', which no tensor uses"));
    }
    TorchStorage& s = storages[index];
    if (s.has_data) return Bad(absl::StrCat("storage '", s.key, "' is listed twice"));
    if (bytes.size() - pos < 8) {
      return Bad(absl::StrCat("storage '", s.key, "': file ends at byte ", bytes.size(),
                              " before its element count (truncated?)"));
    }
    const uint64_t count = Int64At(bytes, pos);
    if (count != static_cast<uint64_t>(s.numel)) {
      return Bad(absl::StrCat("storage '", s.key, "': element count ", count, " at byte ", pos,
                              ", the pickle says ", s.numel));
    }
    const uint64_t n_bytes = count * at::elementSize(s.dtype);  // bounded by the file size
    if (n_bytes > bytes.size() - pos - 8) {
      return Bad(absl::StrCat("storage '", s.key, "': ", n_bytes, " bytes at byte ", pos + 8,
                              " run past the end of the file (", bytes.size(),
                              " bytes; truncated?)"));
    }
    s.data_offset = pos + 8;
    s.has_data = true;
    pos += 8 + n_bytes;
  }
  for (const TorchStorage& s : storages) {
    if (!s.has_data) return Bad(absl::StrCat("storage '", s.key, "' is missing from the key list"));
  }
  if (pos != bytes.size()) {
    return Bad(absl::StrCat(bytes.size() - pos,
                            " unexpected bytes after the last storage (at byte ", pos, ")"));
  }
  return absl::OkStatus();
}

std::vector<TorchTopLevelEntry> TorchCheckpoint::TopLevel() const {
  std::vector<TorchTopLevelEntry> out;
  if (root_->kind != PickleKind::kDict) return out;
  for (size_t i = 0; i + 1 < root_->items.size(); i += 2) {
    const PickleValue& key = *root_->items[i];
    const PickleValue& value = *root_->items[i + 1];
    TorchTopLevelEntry e;
    e.key = key.kind == PickleKind::kString ? key.text : DescribePickleValue(key);
    e.summary = DescribePickleValue(value);
    if (value.kind == PickleKind::kDict) {
      size_t n_tensors = 0;
      for (size_t j = 1; j < value.items.size(); j += 2) {
        if (rebuilder_->TensorOf(value.items[j]) != nullptr) ++n_tensors;
      }
      if (n_tensors > 0 && n_tensors == value.dict_size()) {
        e.summary = absl::StrCat("dict of ", n_tensors, " tensors");
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<TorchTensorInfo>> TorchCheckpoint::Tensors(
    absl::string_view entry, const TorchReadOptions& options) const {
  auto fail = [&](absl::StatusCode code, absl::string_view what) {
    return absl::Status(code, absl::StrCat("torch checkpoint ", path(), ": ", what));
  };
  if (root_->kind != PickleKind::kDict) {
    return fail(absl::StatusCode::kInvalidArgument,
                absl::StrCat("holds a ", DescribePickleValue(*root_), ", not a dict"));
  }
  const PickleValue* dict = root_;
  if (!entry.empty()) {
    dict = root_->DictGet(entry);
    if (dict == nullptr) {
      std::vector<std::string> keys;
      for (const TorchTopLevelEntry& e : TopLevel()) keys.push_back(e.key);
      return fail(absl::StatusCode::kNotFound,
                  absl::StrCat("no top-level entry \"", entry,
                               "\" (entries: ", absl::StrJoin(keys, ", "), ")"));
    }
    if (dict->kind != PickleKind::kDict) {
      return fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("entry \"", entry, "\" is a ", DescribePickleValue(*dict),
                               ", not a dict of tensors"));
    }
  }
  std::vector<TorchTensorInfo> out;
  std::set<std::string> names;
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
    const PickleValue& key = *dict->items[i];
    const PickleValue& value = *dict->items[i + 1];
    if (key.kind != PickleKind::kString) {
      return fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("key ", DescribePickleValue(key), " is not a string"));
    }
    const std::string where = TensorWhere(entry, key.text);
    const int64_t record = rebuilder_->TensorIndex(&value);
    if (record < 0) {
      return fail(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat(where, ": value is a ", DescribePickleValue(value), ", not a tensor"));
    }
    const TorchTensorRecord* t = &rebuilder_->tensors()[record];
    const TorchStorage& storage = rebuilder_->storages()[t->storage];
    absl::StatusOr<TorchExtent> extent = CheckTensorExtent(*t, storage);
    if (!extent.ok()) {
      return fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat(where, ": ", extent.status().message()));
    }
    TorchTensorInfo info;
    info.name = key.text;
    if (options.strip_ddp_prefix && absl::StartsWith(info.name, kDdpPrefix)) {
      info.name = info.name.substr(sizeof(kDdpPrefix) - 1);
    }
    if (!names.insert(info.name).second) {
      return fail(absl::StatusCode::kInvalidArgument,
                  absl::StrCat(where, ": a second tensor named \"", info.name, "\""));
    }
    info.dtype = t->dtype;
    info.shape = t->shape;
    info.requires_grad = t->requires_grad;
    info.is_parameter = t->is_parameter;
    info.storage_key = storage.key;
    info.record = static_cast<size_t>(record);
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<at::Tensor> TorchCheckpoint::Load(const TorchTensorInfo& info) const {
  const std::string context =
      absl::StrCat("torch checkpoint ", path(), ": tensor \"", info.name, "\"");
  const std::vector<TorchTensorRecord>& tensors = rebuilder_->tensors();
  if (info.record >= tensors.size()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": not a tensor of this file"));
  }
  const TorchTensorRecord& t = tensors[info.record];
  const TorchStorage& s = rebuilder_->storages()[t.storage];
  absl::StatusOr<TorchExtent> extent = CheckTensorExtent(t, s);
  if (!extent.ok()) return Prefixed(context, extent.status());
  if (!s.has_data) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": storage '", s.key, "' has no data"));
  }
  const size_t element = at::elementSize(t.dtype);
  const absl::string_view storage_bytes =
      file_->bytes().substr(s.data_offset, static_cast<size_t>(s.numel) * element);
  if (s.check_crc32 && !crc_checked_[t.storage].load(std::memory_order_acquire)) {
    if (Crc32(storage_bytes) != s.crc32) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": zip member ", s.member, ": CRC-32 mismatch (corrupt data)"));
    }
    crc_checked_[t.storage].store(true, std::memory_order_release);
  }
  return GuardTorch(context, [&]() -> absl::StatusOr<at::Tensor> {
    const auto options = at::TensorOptions().dtype(t.dtype);
    if (extent->numel == 0) return at::empty(t.shape, options);
    // Copy the span the tensor reads (aligned, unlike a legacy file's bytes), then lay it out.
    const int64_t span_numel = extent->end - extent->begin;
    at::Tensor span = at::empty({span_numel}, options);
    std::memcpy(span.data_ptr(), storage_bytes.data() + extent->begin * element,
                static_cast<size_t>(span_numel) * element);
    at::Tensor view = span.as_strided(t.shape, t.stride, 0);
    if (view.is_contiguous() && view.numel() == span_numel) return view;
    return view.clone(at::MemoryFormat::Contiguous);
  });
}

absl::StatusOr<TorchStateDict> ReadTorchCheckpoint(const std::string& path, absl::string_view entry,
                                                   const TorchReadOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<TorchCheckpoint> ckpt, TorchCheckpoint::Open(path));
  LMEYE_ASSIGN_OR_RETURN(std::vector<TorchTensorInfo> infos, ckpt->Tensors(entry, options));
  TorchStateDict out;
  out.reserve(infos.size());
  for (const TorchTensorInfo& info : infos) {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor tensor, ckpt->Load(info));
    out.push_back({info.name, std::move(tensor), info.requires_grad});
  }
  return out;
}

}  // namespace lmeye
