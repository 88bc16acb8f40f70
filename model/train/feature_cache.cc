#include "model/train/feature_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/safetensors.h"
#include "model/train/train_data.h"

namespace lmeye {
namespace {

constexpr char kFormat[] = "lmeye-feature-cache";

// "size|mtime_ns" of the file (links followed); empty when it cannot be stat'ed.
std::string SizeAndTime(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  const int64_t mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return absl::StrCat(st.st_size, "|", mtime_ns);
}

// "path|size|mtime_ns"; empty when the file cannot be stat'ed (never cached).
std::string KeyOf(const std::string& path) {
  const std::string stat = SizeAndTime(path);
  return stat.empty() ? "" : absl::StrCat(path, "|", stat);
}

// The vision tower's weight files as "name|size|mtime_ns" lines, by name. Its config.json alone
// would let a retrained tower (same config, new weights) read the old tower's features. Names,
// not paths: every stage's model directory links to the same files, and they share the cache.
absl::StatusOr<std::string> WeightFilesKey(const std::string& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::EndsWith(name, ".safetensors")) continue;
    lines.push_back(absl::StrCat(name, "|", SizeAndTime(entry.path().string())));
  }
  if (ec) return absl::NotFoundError(absl::StrCat(dir, ": ", ec.message()));
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

// Rows of a matching cache file by key; empty when there is no usable file.
std::map<std::string, at::Tensor> ReadCache(const std::string& path, const std::string& id,
                                            int64_t d_v) {
  std::map<std::string, at::Tensor> rows;
  if (path.empty() || !FileExists(path)) return rows;
  auto file = SafetensorsFile::Open(path);
  if (!file.ok()) return rows;
  const auto& meta = (*file)->metadata();
  auto format = meta.find("format"), vision = meta.find("vision"), keys = meta.find("keys");
  if (format == meta.end() || format->second != kFormat || vision == meta.end() ||
      vision->second != id || keys == meta.end()) {
    return rows;
  }
  auto features = (*file)->Load("features", at::kFloat);
  nlohmann::json list = nlohmann::json::parse(keys->second, nullptr, false);
  if (!features.ok() || !list.is_array() || features->dim() != 2 || features->size(1) != d_v ||
      features->size(0) != static_cast<int64_t>(list.size())) {
    return rows;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].is_string()) rows[list[i].get<std::string>()] = (*features)[i];
  }
  return rows;
}

}  // namespace

absl::StatusOr<std::string> FeatureCacheId(const std::string& model_dir, const LmeyeModel& model) {
  const IpnAdapterConfig& ac = model.adapter_config();
  const std::string vision_dir = model_dir + "/" + ac.vision;
  LMEYE_ASSIGN_OR_RETURN(std::string config, ReadFileToString(vision_dir + "/config.json"));
  LMEYE_ASSIGN_OR_RETURN(std::string weights, WeightFilesKey(vision_dir));
  // The v0 layout always reads the projected feature (LmeyeModel::ImageFeature).
  const bool projected =
      ac.image_feature == IpnImageFeature::kProjected || ac.layout == AdapterLayout::kLingcloudV0;
  return absl::StrCat(projected ? "projected" : "pooled", "\n", config, "\n", weights);
}

absl::StatusOr<at::Tensor> CachedImageFeatures(
    const LmeyeModel& model, const ClipImagePreprocessor& preprocessor,
    const std::vector<std::string>& images, const std::string& cache_path,
    const std::string& cache_id, DataParallelGroup* group, int batch,
    std::vector<std::pair<int, std::string>>* failed, FeatureCacheStats* stats) {
  const int64_t d_v = model.dims().d_v;
  std::map<std::string, at::Tensor> cached = ReadCache(cache_path, cache_id, d_v);
  at::Tensor features = at::zeros({static_cast<int64_t>(images.size()), d_v});
  std::vector<std::string> keys(images.size());
  std::vector<std::string> missing;
  std::vector<int> missing_rows;
  for (size_t i = 0; i < images.size(); ++i) {
    keys[i] = KeyOf(images[i]);
    auto it = keys[i].empty() ? cached.end() : cached.find(keys[i]);
    if (it != cached.end()) {
      features[static_cast<int64_t>(i)].copy_(it->second);
      ++stats->hits;
    } else {
      missing.push_back(images[i]);
      missing_rows.push_back(static_cast<int>(i));
    }
  }
  if (missing.empty()) return features;

  // With a group, rank r encodes the missing images j with j % W == r; one all-reduce shares the
  // rows and the failures (zero rows and flags elsewhere).
  const int world = group != nullptr ? group->world_size() : 1;
  const int rank = group != nullptr ? group->rank() : 0;
  std::vector<std::string> mine;
  std::vector<int64_t> mine_rows;  // positions in `missing`
  for (size_t j = 0; j < missing.size(); ++j) {
    if (static_cast<int>(j % world) != rank) continue;
    mine.push_back(missing[j]);
    mine_rows.push_back(static_cast<int64_t>(j));
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::pair<int, std::string>> mine_failed;
  LMEYE_ASSIGN_OR_RETURN(at::Tensor encoded,
                         EncodeImages(model, preprocessor, mine, batch, &mine_failed));
  stats->encode_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t n_missing = static_cast<int64_t>(missing.size());
  at::Tensor fresh = at::zeros({n_missing, d_v});
  at::Tensor bad = at::zeros({n_missing});
  std::map<int64_t, std::string> reasons;
  LMEYE_RETURN_IF_ERROR(GuardTorch("sharing image features", [&]() -> absl::Status {
    if (!mine_rows.empty()) fresh.index_copy_(0, at::tensor(mine_rows, at::kLong), encoded);
    for (auto& [k, why] : mine_failed) {
      bad[mine_rows[k]] = 1.0;
      reasons[mine_rows[k]] = std::move(why);
    }
    return absl::OkStatus();
  }));
  if (group != nullptr) LMEYE_RETURN_IF_ERROR(group->AllReduceSum({fresh, bad}));
  for (int64_t j = 0; j < n_missing; ++j) {
    if (bad[j].item<double>() > 0) {
      auto it = reasons.find(j);
      failed->emplace_back(missing_rows[j],
                           it != reasons.end()
                               ? it->second
                               : absl::StrCat(missing[j], ": cannot be read (rank ", j % world,
                                              " has the reason in its error output)"));
      continue;
    }
    features[missing_rows[j]].copy_(fresh[j]);
    ++stats->encoded;
    if (!keys[missing_rows[j]].empty()) cached[keys[missing_rows[j]]] = fresh[j];
  }
  if (cache_path.empty() || stats->encoded == 0) return features;
  if (group != nullptr && group->rank() != 0) {
    // Wait for rank 0's write, so that every rank's next read sees the same file.
    LMEYE_RETURN_IF_ERROR(group->Barrier());
    return features;
  }
  // The union of what the file had and what was encoded now.
  nlohmann::json list = nlohmann::json::array();
  std::vector<at::Tensor> rows;
  for (auto& [key, row] : cached) {
    list.push_back(key);
    rows.push_back(row);
  }
  LMEYE_RETURN_IF_ERROR(GuardTorch("writing the feature cache", [&]() -> absl::Status {
    return WriteSafetensors(cache_path, {{"features", at::stack(rows).contiguous()}},
                            {{"format", kFormat}, {"vision", cache_id}, {"keys", list.dump()}});
  }));
  if (group != nullptr) LMEYE_RETURN_IF_ERROR(group->Barrier());
  return features;
}

}  // namespace lmeye
