#include "model/io/checkpoint.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

struct Layout {
  const char* single;
  const char* index;
  bool torch_format;
};
// In order of preference: safetensors loads without pickles and maps straight into tensors.
constexpr Layout kLayouts[] = {
    {"model.safetensors", "model.safetensors.index.json", false},
    {"pytorch_model.bin", "pytorch_model.bin.index.json", true},
};

}  // namespace

absl::StatusOr<Checkpoint::Sources> Checkpoint::AddFile(const std::string& path,
                                                        bool torch_format) {
  Sources sources;
  if (!torch_format) {
    LMEYE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
    for (const auto& e : file->entries()) {
      Source& s = sources[e.name];
      s.info.dtype = ToScalarType(e.dtype);
      s.info.shape = e.shape;
      s.safetensors = file.get();
    }
    shards_.push_back(std::move(file));
    return sources;
  }
  // A Hugging Face pytorch_model.bin is torch.save(state_dict): the saved dict is the state dict.
  LMEYE_ASSIGN_OR_RETURN(auto file, TorchCheckpoint::Open(path));
  LMEYE_ASSIGN_OR_RETURN(std::vector<TorchTensorInfo> tensors, file->Tensors(""));
  for (TorchTensorInfo& t : tensors) {
    Source& s = sources[t.name];
    s.info.dtype = t.dtype;
    s.info.shape = t.shape;
    s.torch = file.get();
    s.torch_tensor = std::move(t);
  }
  torch_shards_.push_back(std::move(file));
  return sources;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::OpenFile(const std::string& path) {
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->location_ = path;
  LMEYE_ASSIGN_OR_RETURN(ckpt->tensors_, ckpt->AddFile(path, /*torch_format=*/false));
  return ckpt;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  for (const Layout& layout : kLayouts) {
    const std::string single = absl::StrCat(dir, "/", layout.single);
    if (FileExists(single)) {
      auto ckpt = std::make_unique<Checkpoint>();
      ckpt->location_ = dir;
      LMEYE_ASSIGN_OR_RETURN(ckpt->tensors_, ckpt->AddFile(single, layout.torch_format));
      return ckpt;
    }
    const std::string index = absl::StrCat(dir, "/", layout.index);
    if (FileExists(index)) return OpenIndexed(dir, index, layout.torch_format);
  }
  return absl::NotFoundError(absl::StrCat(
      "checkpoint directory ", dir,
      " has none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, "
      "pytorch_model.bin.index.json"));
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::OpenIndexed(const std::string& dir,
                                                                    const std::string& index_path,
                                                                    bool torch_format) {
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json index, ReadJsonFile(index_path));
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": not a JSON object with a \"weight_map\" object"));
  }
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->location_ = dir;
  std::map<std::string, Sources> by_shard;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map[\"", it.key(), "\"] is not a file name"));
    }
    std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == ".." || shard.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": shard name \"", shard, "\" must be a plain file name"));
    }
    auto found = by_shard.find(shard);
    if (found == by_shard.end()) {
      // A shard's own extension decides its format, so one index may mix both (`lmeye
      // init-model` links a .bin checkpoint's shards beside a safetensors file of resized rows).
      const bool torch_shard = absl::EndsWith(shard, ".bin")           ? true
                               : absl::EndsWith(shard, ".safetensors") ? false
                                                                       : torch_format;
      LMEYE_ASSIGN_OR_RETURN(Sources sources, ckpt->AddFile(dir + "/" + shard, torch_shard));
      found = by_shard.emplace(shard, std::move(sources)).first;
    }
    auto source = found->second.find(it.key());
    if (source == found->second.end()) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": tensor \"", it.key(),
                                                     "\" is mapped to ", shard,
                                                     " but that shard does not hold it"));
    }
    ckpt->tensors_[it.key()] = source->second;
  }
  return ckpt;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, source] : tensors_) out.push_back(name);
  return out;
}

bool Checkpoint::Contains(absl::string_view name) const {
  return tensors_.find(name) != tensors_.end();
}

const CheckpointTensorInfo* Checkpoint::Info(absl::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second.info;
}

const SafetensorsEntry* Checkpoint::Find(absl::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end() || it->second.safetensors == nullptr) return nullptr;
  return it->second.safetensors->Find(name);
}

absl::StatusOr<at::Tensor> Checkpoint::Load(absl::string_view name, at::ScalarType dtype) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(
        absl::StrCat("tensor \"", name, "\" not found in checkpoint ", location_));
  }
  const Source& source = it->second;
  if (source.safetensors != nullptr) return source.safetensors->Load(name, dtype);
  LMEYE_ASSIGN_OR_RETURN(at::Tensor tensor, source.torch->Load(source.torch_tensor));
  return GuardTorch(absl::StrCat("converting tensor \"", name, "\" of ", location_),
                    [&]() -> absl::StatusOr<at::Tensor> { return tensor.to(dtype); });
}

}  // namespace lmeye
