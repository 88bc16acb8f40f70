#include "model/common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {

bool FileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("file not found: ", path));
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("not a regular file: ", path));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read file: ", path));
  }
  return std::move(buffer).str();
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", e.what()));
  }
  return json;
}

namespace {

std::string ErrnoText() { return std::strerror(errno); }

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(const ByteSink&)>& write) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  std::string tmp = path + ".tmp.XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary file beside ", path, ": ", ErrnoText()));
  }
  tmp.assign(name.data());
  std::string error;
  const ByteSink sink = [&](const void* data, size_t n) {
    if (!error.empty()) return false;
    if (WriteAll(fd, data, n)) return true;
    error = ErrnoText();
    return false;
  };
  absl::Status status = write(sink);
  if (status.ok() && !error.empty()) status = absl::InternalError(error);
  if (status.ok() && (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0)) {
    status = absl::InternalError(ErrnoText());
  }
  if (::close(fd) != 0 && status.ok()) status = absl::InternalError(ErrnoText());
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("rename: ", ErrnoText()));
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return absl::Status(status.code(), absl::StrCat("writing ", path, ": ", status.message()));
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // makes the rename itself durable
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  return WriteFileAtomically(path, [&](const ByteSink& sink) {
    sink(contents.data(), contents.size());
    return absl::OkStatus();
  });
}

bool IsAtomicWriteTemporary(absl::string_view file_name) {
  const size_t at = file_name.rfind(".tmp.");
  if (at == absl::string_view::npos || at == 0) return false;
  const absl::string_view suffix = file_name.substr(at + 5);
  if (suffix.size() != 6) return false;
  for (char c : suffix) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace lmeye
