#include "server/modes/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/ipn/model_dir.h"
#include "model/tools/init_model.h"

#ifndef LMEYE_DEMO_MODEL_DIR
#error "LMEYE_DEMO_MODEL_DIR must name the source tree's model/demo (server/CMakeLists.txt)"
#endif

namespace lmeye {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::string DefaultModelDir() {
  if (std::string dir = Env("LMEYE_DEFAULT_MODEL_DIR"); !dir.empty()) return dir;
  if (std::string dir = Env("LMEYE_CACHE_DIR"); !dir.empty()) return dir + "/default-model";
  if (std::string dir = Env("XDG_CACHE_HOME"); !dir.empty()) return dir + "/lmeye/default-model";
  if (std::string home = Env("HOME"); !home.empty()) return home + "/.cache/lmeye/default-model";
  return "/tmp/lmeye-default-model";
}

// <prefix>/share/lmeye/NAME for a binary installed as <prefix>/bin/lmeye (the Docker image's
// layout); empty when the binary's path is unknown.
std::string InstalledShareDir(const std::string& name) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (exe.parent_path().parent_path() / "share/lmeye" / name).string();
}

// The trained demo model: next to an installed binary, else in the source tree the binary was
// built from (a default only: --model or $LMEYE_DEFAULT_MODEL_DIR override it).
std::string ShippedDemoDir() {
  if (std::string installed = InstalledShareDir("demo");
      !installed.empty() && FileExists(installed + "/" + ModelDir::kAdapterConfigName)) {
    return installed;
  }
  if (FileExists(std::string(LMEYE_DEMO_MODEL_DIR) + "/" + ModelDir::kAdapterConfigName))
    return LMEYE_DEMO_MODEL_DIR;
  return "";
}

// The tokenizer of the random default model: $LMEYE_DEFAULT_TOKENIZER_DIR, else GPT-2's next to
// an installed binary. Nothing from the source tree: the binary runs without it.
absl::StatusOr<std::string> DefaultTokenizerDir() {
  if (std::string dir = Env("LMEYE_DEFAULT_TOKENIZER_DIR"); !dir.empty()) return dir;
  if (std::string installed = InstalledShareDir("tokenizers/gpt2");
      !installed.empty() && std::filesystem::is_directory(installed)) {
    return installed;
  }
  return absl::FailedPreconditionError(
      "default model: no tokenizer to write it with: set LMEYE_DEFAULT_TOKENIZER_DIR to a "
      "tokenizer directory (GPT-2's is tests/data/tokenizers/gpt2 in the source tree), or serve "
      "a model with --model DIR");
}

}  // namespace

absl::StatusOr<std::string> EnsureDefaultModel() {
  if (Env("LMEYE_DEFAULT_MODEL_DIR").empty()) {
    if (std::string demo = ShippedDemoDir(); !demo.empty()) return demo;
  }
  const std::string dir = DefaultModelDir();
  if (FileExists(dir + "/" + ModelDir::kAdapterConfigName)) return dir;
  LMEYE_ASSIGN_OR_RETURN(const std::string tokenizer, DefaultTokenizerDir());
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("default model: cannot create the parent of ", dir, ": ", ec.message()));
  }
  InitModelOptions options;
  options.family = LlmFamily::kOpt;
  options.llm_preset = "tiny";
  options.clip_preset = "tiny";
  options.tokenizer_dir = tokenizer;
  options.out_dir = dir;
  std::cerr << "lmeye serve: no --model given; writing the default model (random OPT-tiny + "
               "CLIP-tiny, GPT-2 tokenizer) to "
            << dir << "\n";
  absl::StatusOr<InitModelReport> report = InitModel(options);
  if (!report.ok()) {
    // Another process may have written it meanwhile (two servers starting together).
    if (FileExists(dir + "/" + ModelDir::kAdapterConfigName)) return dir;
    return absl::Status(report.status().code(),
                        absl::StrCat("default model: ", report.status().message()));
  }
  return dir;
}

}  // namespace lmeye
