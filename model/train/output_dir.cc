#include "model/train/output_dir.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/safetensors.h"
#include "model/ipn/model_dir.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

absl::Status FsError(const std::string& what, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(what, ": ", ec.message()));
}

bool SameDir(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

// Files that hold (or describe the values of) weights, which the written tensors replace.
bool IsWeightFile(const std::string& name) {
  return absl::EndsWith(name, ".safetensors") || absl::EndsWith(name, ".safetensors.index.json") ||
         absl::EndsWith(name, ".bin") || absl::EndsWith(name, ".bin.index.json") ||
         absl::StartsWith(name, "golden.");
}

// The transformers spelling of config.json's torch_dtype.
const char* TorchDtypeName(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      return "float32";
  }
}

}  // namespace

absl::Status CompleteModelDir(const std::string& model_dir, const std::string& out_dir,
                              const IpnAdapterConfig& adapter, const std::set<std::string>& written,
                              bool adapter_written) {
  if (SameDir(model_dir, out_dir)) return absl::OkStatus();
  std::error_code ec;
  const fs::path model = fs::absolute(model_dir, ec).lexically_normal();
  const fs::path out(out_dir);
  const ModelDir from(model.string(), adapter), to(out_dir, adapter);
  fs::copy_file(from.adapter_config_file(), to.adapter_config_file(),
                fs::copy_options::overwrite_existing, ec);
  if (ec) return FsError(absl::StrCat("copying ", ModelDir::kAdapterConfigName), ec);
  if (!adapter_written) {
    fs::copy_file(from.adapter_weights_file(), to.adapter_weights_file(),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return FsError(absl::StrCat("copying ", ModelDir::kAdapterWeightsName), ec);
  }
  for (const std::string& sub : {adapter.vision, adapter.text, adapter.llm}) {
    if (written.count(sub) > 0) continue;
    const fs::path link = out / sub;
    if (fs::exists(fs::symlink_status(link))) continue;
    // The real directory, not a chain of links through earlier stages' outputs.
    fs::create_directory_symlink(fs::weakly_canonical(model / sub, ec), link, ec);
    if (ec) return FsError(absl::StrCat("linking ", link.string()), ec);
  }
  return absl::OkStatus();
}

absl::Status WriteBackboneDir(const std::string& src_dir, const std::string& dst_dir,
                              const NamedTensors& tensors, at::ScalarType dtype) {
  std::error_code ec;
  // Resolved before anything changes: dst may be a link to src.
  const fs::path src = fs::weakly_canonical(src_dir, ec);
  if (ec) return FsError(src_dir, ec);
  const fs::path dst(dst_dir);
  const bool in_place = SameDir(src, dst) && !fs::is_symlink(dst);
  if (!in_place) {
    if (fs::is_symlink(dst)) fs::remove(dst, ec);
    if (ec) return FsError(absl::StrCat("replacing the link ", dst.string()), ec);
    fs::create_directories(dst, ec);
    if (ec) return FsError(dst.string(), ec);
  }
  // The weights first: a crash before the config is rewritten leaves a directory that fails to
  // load loudly rather than one that loads stale values.
  NamedTensors out;
  LMEYE_RETURN_IF_ERROR(GuardTorch("converting the weights", [&]() -> absl::Status {
    for (const auto& [name, t] : tensors) {
      out.emplace_back(name, t.detach().to(at::kCPU, dtype).contiguous());
    }
    return absl::OkStatus();
  }));
  LMEYE_RETURN_IF_ERROR(
      WriteSafetensors((dst / "model.safetensors").string(), out, {{"format", "pt"}}));
  for (const fs::directory_entry& entry : fs::directory_iterator(src, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || IsWeightFile(name)) continue;
    if (name == "config.json") {
      LMEYE_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonFile(entry.path().string()));
      config["torch_dtype"] = TorchDtypeName(dtype);
      LMEYE_RETURN_IF_ERROR(
          WriteFileAtomically((dst / "config.json").string(), config.dump(2) + "\n"));
    } else if (!in_place) {
      fs::copy_file(entry.path(), dst / name, fs::copy_options::overwrite_existing, ec);
      if (ec) return FsError(absl::StrCat("copying ", name), ec);
    }
  }
  if (ec) return FsError(absl::StrCat("listing ", src.string()), ec);
  if (in_place) {
    // Old shards or an index would shadow the new model.safetensors.
    for (const fs::directory_entry& entry : fs::directory_iterator(dst, ec)) {
      const std::string name = entry.path().filename().string();
      if (name != "model.safetensors" && IsWeightFile(name)) fs::remove(entry.path(), ec);
    }
  }
  return absl::OkStatus();
}

}  // namespace lmeye
