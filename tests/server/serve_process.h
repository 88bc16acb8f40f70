// The real `lmeye serve` as a child process on loopback, for end-to-end tests: a model written
// by `lmeye init-model`, the server started on port 0 (its ports read back from --ports-file),
// stopped with SIGTERM (graceful drain) or killed when a test fails early.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

#ifndef LMEYE_BINARY
#error "LMEYE_BINARY must name the lmeye executable (tests/server/CMakeLists.txt)"
#endif

namespace lmeye::testing {

// The file's bytes, or "" when it cannot be read (a log the child never wrote).
inline std::string ReadWholeFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  return bytes.ok() ? *std::move(bytes) : "";
}

// Runs `lmeye init-model` for the tiny OPT + CLIP shapes with GPT-2's tokenizer into `out`.
inline bool InitTinyModel(const std::string& out) {
  const std::string cmd = absl::StrCat(
      LMEYE_BINARY, " init-model --family opt --preset tiny --clip-preset tiny --tokenizer ",
      TestData("tokenizers/gpt2"), " --out ", out, " --force > ", out, ".log 2>&1");
  return std::system(cmd.c_str()) == 0;
}

// The tiny model at `dir`, written by InitTinyModel once for every test process that shares it
// (ctest runs each test in its own): written under `scratch`, then renamed into place, so
// concurrent first runs are safe. True when `dir` holds a model; else `error` says why.
inline bool EnsureTinyModel(const std::string& dir, const std::string& scratch,
                            std::string* error) {
  if (std::filesystem::exists(dir + "/adapter.json")) return true;
  const std::string mine = scratch + "/model";
  if (!InitTinyModel(mine)) {
    *error = ReadWholeFile(mine + ".log");
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  std::filesystem::rename(mine, dir, ec);  // fails harmlessly if another process won
  if (std::filesystem::exists(dir + "/adapter.json")) return true;
  *error = ec.message();
  return false;
}

class ServeProcess {
 public:
  // Starts `lmeye serve --model model_dir --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0`
  // plus `extra` flags and waits (up to 60 s) until it serves. started() tells whether it did.
  ServeProcess(const std::string& model_dir, std::vector<std::string> extra,
               const std::string& scratch) {
    ports_file_ = absl::StrCat(scratch, "/ports-", counter()++);
    log_file_ = ports_file_ + ".log";
    std::vector<std::string> args = {LMEYE_BINARY, "serve",       "--model",          model_dir,
                                     "--listen",   "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                     "--threads",  "1",           "--ports-file",     ports_file_};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = std::fopen(log_file_.c_str(), "w");
      if (log != nullptr) {
        dup2(fileno(log), 1);
        dup2(fileno(log), 2);
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 600 && running(); ++i) {
      std::ifstream in(ports_file_);
      if (in >> grpc_port_ >> metrics_port_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  ~ServeProcess() {
    if (pid_ > 0 && exit_code_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  bool started() const { return grpc_port_ > 0; }
  pid_t pid() const { return pid_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  std::string log() const { return ReadWholeFile(log_file_); }

  std::shared_ptr<grpc::Channel> Channel() const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
  }

  bool running() {
    if (pid_ <= 0 || exit_code_ >= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // Waits up to `seconds` for the process to exit; its exit code, or -1 if it did not.
  int Wait(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (running() && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code_;
  }

  // GET /metrics over a plain socket; "" when the request fails.
  std::string Metrics() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(metrics_port_));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    std::string out;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
        char buf[65536];
        for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
      }
    }
    close(fd);
    return out;
  }

  // The sum of every sample of `metric` in a scrape whose label set contains `label` (e.g.
  // `phase="decode"`; empty: all label sets); -1 if there is none.
  static double Sample(const std::string& scrape, const std::string& metric,
                       const std::string& label = "") {
    std::istringstream in(scrape);
    double total = 0;
    bool found = false;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(metric, 0) != 0) continue;
      const char next = line.size() > metric.size() ? line[metric.size()] : '\0';
      if (next != ' ' && next != '{') continue;
      const size_t value_at = line.rfind(' ');
      if (!label.empty() && line.substr(0, value_at).find(label) == std::string::npos) continue;
      total += std::stod(line.substr(value_at + 1));
      found = true;
    }
    return found ? total : -1;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }

  pid_t pid_ = -1;
  int exit_code_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::string ports_file_;
  std::string log_file_;
};

}  // namespace lmeye::testing
