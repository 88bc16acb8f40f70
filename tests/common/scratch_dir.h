// A fresh directory for one test or suite under the test temp dir (gtest's TempDir(), which
// honours $TEST_TMPDIR), removed with the object, so tests never share or leak files.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace lmeye::testing {

class ScratchDir {
 public:
  // `name` appears in the directory's name, to tell which test left it if a crash does.
  explicit ScratchDir(const std::string& name = "lmeye") {
    std::string pattern = ::testing::TempDir() + "/" + name + "_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/relative.
  std::string Path(const std::string& relative) const { return path_ + "/" + relative; }
  // Writes `content` to path()/relative (binary, parents not created) and returns that path.
  std::string Write(const std::string& relative, const std::string& content) const {
    const std::string file = Path(relative);
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  std::string path_;
};

}  // namespace lmeye::testing
