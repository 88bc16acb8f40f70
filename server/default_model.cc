#include "server/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/ipn/init_model.h"

#ifndef LMEYE_DEFAULT_TOKENIZER_DIR
#error "LMEYE_DEFAULT_TOKENIZER_DIR must name the GPT-2 tokenizer directory (server/CMakeLists.txt)"
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

}  // namespace

absl::StatusOr<std::string> EnsureDefaultModel() {
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
