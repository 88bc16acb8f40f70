// The API works for clients we did not write: Python grpcio (Debian's python3-grpcio) with
// protoc-generated message classes calls the server (grpc_python_client.py). Skipped when no
// python3 with grpcio and protobuf is installed.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "tests/server/server_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestServer;

// Runs `command` and returns its exit status, with its output in `output`.
int RunCommand(const std::string& command, std::string* output) {
  output->clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The first interpreter that has grpcio and protobuf (a pyenv `python3` first on PATH may not).
std::string FindPython() {
  std::string output;
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    if (RunCommand(std::string(python) + " -c 'import grpc, google.protobuf'", &output) == 0) {
      return python;
    }
  }
  return "";
}

TEST(GrpcPythonClient, CallsTheApiThroughTheProtoFile) {
  const std::string python = FindPython();
  if (python.empty()) GTEST_SKIP() << "no python3 with grpcio and protobuf";
  const std::string out_dir = ::testing::TempDir() + "/lmeye_python_" + std::to_string(::getpid());
  std::string output;
  ASSERT_EQ(RunCommand("mkdir -p " + out_dir +
                           " && " LMEYE_PROTOC " --proto_path=" LMEYE_PROTO_DIR " --python_out=" +
                           out_dir + " " LMEYE_PROTO_DIR "/lmeye/v1/lmeye.proto",
                       &output),
            0)
      << output;

  TestServer server;
  const int status =
      RunCommand(python + " " LMEYE_SOURCE_DIR "/tests/server/grpc_python_client.py " +
                     server.address() + " " + out_dir,
                 &output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("vqa: ok"), std::string::npos) << output;
}

}  // namespace
}  // namespace lmeye
