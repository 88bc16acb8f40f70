#include "server/modes/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/tools/init_model.h"

#ifndef LMEYE_DEFAULT_TOKENIZER_DIR
#error "LMEYE_DEFAULT_TOKENIZER_DIR must name the GPT-2 tokenizer directory (server/CMakeLists.txt)"
#endif
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

// The trained demo model: next to an installed binary (<prefix>/share/lmeye/demo, as the Docker
// image lays it out), else in the source tree the binary was built from.
std::string ShippedDemoDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = exe.parent_path().parent_path() / "share/lmeye/demo";
    if (FileExists((installed / "adapter.json").string())) return installed.string();
  }
  if (FileExists(std::string(LMEYE_DEMO_MODEL_DIR) + "/adapter.json")) return LMEYE_DEMO_MODEL_DIR;
  return "";
}

}  // namespace

absl::StatusOr<std::string> EnsureDefaultModel() {
  if (Env("LMEYE_DEFAULT_MODEL_DIR").empty()) {
    if (std::string demo = ShippedDemoDir(); !demo.empty()) return demo;
  }
  const std::string dir = DefaultModelDir();
  if (FileExists(dir + "/adapter.json")) return dir;
  std::string tokenizer = Env("LMEYE_DEFAULT_TOKENIZER_DIR");
  if (tokenizer.empty()) tokenizer = LMEYE_DEFAULT_TOKENIZER_DIR;
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
    if (FileExists(dir + "/adapter.json")) return dir;
    return absl::Status(report.status().code(),
                        absl::StrCat("default model: ", report.status().message()));
  }
  return dir;
}

}  // namespace lmeye
