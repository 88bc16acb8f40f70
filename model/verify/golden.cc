#include "model/verify/golden.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<GoldenSet>> GoldenSet::Open(const std::string& goldens_dir,
                                                           const std::string& model_dir) {
  auto set = std::unique_ptr<GoldenSet>(new GoldenSet());
  set->dir_ = goldens_dir;
  while (set->dir_.size() > 1 && set->dir_.back() == '/') set->dir_.pop_back();
  set->model_dir_ = model_dir.empty() ? set->dir_ : model_dir;
  const std::string json_path = set->dir_ + "/golden.json";
  if (!FileExists(json_path))
    return absl::NotFoundError(absl::StrCat("no golden.json in ", set->dir_));
  LMEYE_ASSIGN_OR_RETURN(set->spec_, ReadJsonFile(json_path));
  if (!set->spec_.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(json_path, " is not a JSON object"));
  }
  LMEYE_ASSIGN_OR_RETURN(set->tensors_, SafetensorsFile::Open(set->dir_ + "/golden.safetensors"));
  return set;
}

std::string GoldenSet::model_class() const {
  auto it = spec_.find("model_class");
  return it != spec_.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::StatusOr<at::Tensor> GoldenSet::Get(absl::string_view name) const {
  return tensors_->Load(name);
}

bool GoldenSet::IsInput(absl::string_view name) const {
  auto tensors = spec_.find("tensors");
  if (tensors == spec_.end() || !tensors->is_object()) return false;
  auto it = tensors->find(std::string(name));
  if (it == tensors->end() || !it->is_object()) return false;
  auto desc = it->find("description");
  return desc != it->end() && desc->is_string() &&
         absl::StartsWith(desc->get<std::string>(), "INPUT");
}

std::vector<std::string> GoldenSet::names() const {
  std::vector<std::string> out;
  for (const auto& e : tensors_->entries()) out.push_back(e.name);
  return out;
}

}  // namespace lmeye
