// The layout of an LMEye model directory, in one place (adapter.json: docs/DESIGN.md section 2):
//   adapter.json          the adapter's options and where its backbones live (adapter_config.h)
//   adapter.safetensors   the adapter's weights
//   <vision>/             the CLIP vision tower, with preprocessor_config.json (default "clip")
//   <text>/               the CLIP text tower (default "clip": usually the same CLIPModel)
//   <llm>/                the LLM and its tokenizer (default "llm")
// The backbone folder names come from adapter.json. Every path into a model directory is made
// here, so that loaders, trainers, init-model and the server agree on it.
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "model/ipn/adapter_config.h"

namespace lmeye {

class ModelDir {
 public:
  static constexpr const char* kAdapterConfigName = "adapter.json";
  static constexpr const char* kAdapterWeightsName = "adapter.safetensors";
  static constexpr const char* kPreprocessorConfigName = "preprocessor_config.json";

  // Reads `root`/adapter.json: NOT_FOUND when there is none (not a model directory), its parse
  // or validation error (naming the file) otherwise.
  static absl::StatusOr<ModelDir> Open(const std::string& root);
  // The layout `config` gives `root`, without reading anything: for writers (init-model, the
  // trainer's output directory).
  ModelDir(std::string root, IpnAdapterConfig config)
      : root_(std::move(root)), config_(std::move(config)) {}

  const std::string& root() const { return root_; }
  const IpnAdapterConfig& adapter_config() const { return config_; }

  std::string adapter_config_file() const { return Path(kAdapterConfigName); }
  std::string adapter_weights_file() const { return Path(kAdapterWeightsName); }
  std::string vision_dir() const { return Path(config_.vision); }
  std::string text_dir() const { return Path(config_.text); }
  std::string llm_dir() const { return Path(config_.llm); }
  // The vision tower's image preprocessing (CLIPImageProcessor's preprocessor_config.json).
  std::string preprocessor_config_file() const {
    return vision_dir() + "/" + kPreprocessorConfigName;
  }
  // root/relative.
  std::string Path(const std::string& relative) const { return root_ + "/" + relative; }

 private:
  std::string root_;
  IpnAdapterConfig config_;
};

}  // namespace lmeye
