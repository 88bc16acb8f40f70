// Fuzz target for `lmeye serve`'s YAML configuration (server/modes/config.h): each input parsed
// with ParseServerConfigYaml (yaml-cpp, then the typed keys), then validated, and every option
// printed back. Paths in the file are cleared before validating, so that the run reads no file
// the input names. Seeds: corpus/server_config (deploy/lmeye.example.yaml and a few by hand).
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/modes/config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config = lmeye::ParseServerConfigYaml(lmeye::fuzz::AsString(data, size),
                                             "/nonexistent-fuzz-dir", "fuzz.yaml");
  if (!config.ok()) return 0;
  for (const std::string& key : lmeye::ServerConfigKeys()) {
    if (key.rfind("prompts.", 0) != 0) lmeye::ServerConfigOptionText(*config, key);
  }
  config->auth_token_file.clear();
  config->grpc.tls_cert_file.clear();
  config->grpc.tls_key_file.clear();
  config->grpc.tls_client_ca_file.clear();
  config->prompts_file.clear();
  config->Validate().IgnoreError();
  return 0;
}
