#include "model/io/checkpoint.h"

#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::OpenFile(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->location_ = path;
  for (const auto& e : file->entries()) ckpt->owner_[e.name] = file.get();
  ckpt->shards_.push_back(std::move(file));
  return ckpt;
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (FileExists(single)) {
    LMEYE_ASSIGN_OR_RETURN(auto ckpt, OpenFile(single));
    ckpt->location_ = dir;
    return ckpt;
  }
  if (!FileExists(index_path)) {
    return absl::NotFoundError(absl::StrCat("checkpoint directory ", dir,
                                            " has neither model.safetensors nor "
                                            "model.safetensors.index.json"));
  }
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json index, ReadJsonFile(index_path));
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": not a JSON object with a \"weight_map\" object"));
  }
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->location_ = dir;
  std::map<std::string, const SafetensorsFile*> by_shard;
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
      LMEYE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(dir + "/" + shard));
      found = by_shard.emplace(shard, file.get()).first;
      ckpt->shards_.push_back(std::move(file));
    }
    if (!found->second->Contains(it.key())) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": tensor \"", it.key(),
                                                     "\" is mapped to ", shard,
                                                     " but that shard does not hold it"));
    }
    ckpt->owner_[it.key()] = found->second;
  }
  return ckpt;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(owner_.size());
  for (const auto& [name, file] : owner_) out.push_back(name);
  return out;
}

bool Checkpoint::Contains(absl::string_view name) const {
  return owner_.find(name) != owner_.end();
}

const SafetensorsEntry* Checkpoint::Find(absl::string_view name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? nullptr : it->second->Find(name);
}

absl::StatusOr<at::Tensor> Checkpoint::Load(absl::string_view name, at::ScalarType dtype) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) {
    return absl::NotFoundError(
        absl::StrCat("tensor \"", name, "\" not found in checkpoint ", location_));
  }
  return it->second->Load(name, dtype);
}

}  // namespace lmeye
