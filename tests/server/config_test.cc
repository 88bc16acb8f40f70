// ServerConfig: the example file under deploy/ loads and documents every key; flags win over
// the file; unknown keys and bad values are errors naming the key.
#include "server/modes/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/modes/config_flags.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::string ExampleConfigPath() {
  // tests/data -> the source root -> deploy/.
  return lmeye::testing::TestDataDir() + "/../../deploy/lmeye.example.yaml";
}

// A fresh directory per test, for config files and the files they name.
class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    return scratch_.Write(name, text);
  }

  // Parses `yaml` and validates; the error message (or "" when OK).
  std::string Error(const std::string& yaml) {
    auto config = LoadServerConfig({"--config", Write("c.yaml", yaml)});
    return config.ok() ? "" : std::string(config.status().message());
  }

  ::lmeye::testing::ScratchDir scratch_{"lmeye_config"};
  std::string dir_ = scratch_.path();
};

TEST_F(ConfigTest, ExampleFileLoadsToTheDefaults) {
  auto config = LoadServerConfig({"--config", ExampleConfigPath()});
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerConfig defaults;
  EXPECT_EQ(config->model_dir, defaults.model_dir);
  EXPECT_EQ(config->grpc.listen, "0.0.0.0:50051");
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9090");
  EXPECT_EQ(config->workers, defaults.workers);
  EXPECT_EQ(config->worker.scheduler.max_running, defaults.worker.scheduler.max_running);
  EXPECT_EQ(config->worker.scheduler.max_queue, defaults.worker.scheduler.max_queue);
  EXPECT_EQ(config->worker.scheduler.prefix_cache_entries,
            defaults.worker.scheduler.prefix_cache_entries);
  EXPECT_EQ(config->limits.max_image_bytes, defaults.limits.max_image_bytes);
  EXPECT_EQ(config->worker.image_limits.max_side, 32768);
  EXPECT_EQ(config->grpc.max_message_bytes, defaults.grpc.max_message_bytes);
  EXPECT_EQ(config->defaults.describe_num_beams, 5);
  EXPECT_EQ(config->defaults.interaction, true);
  EXPECT_EQ(config->grpc.keepalive_time, defaults.grpc.keepalive_time);
  EXPECT_EQ(config->grpc.max_ping_strikes, defaults.grpc.max_ping_strikes);
  EXPECT_EQ(config->drain_timeout_seconds, defaults.drain_timeout_seconds);
  const PromptTemplates default_prompts;
  EXPECT_EQ(config->prompts.vqa_short, default_prompts.vqa_short);
  EXPECT_EQ(config->prompts.chat_turn, default_prompts.chat_turn);
  EXPECT_EQ(config->prompts.describe, default_prompts.describe);
}

// Every key appears in the example, under its section, with a comment above it (keys may share
// one comment: nothing but other keys between the comment and the key).
TEST_F(ConfigTest, ExampleFileDocumentsEveryKey) {
  std::ifstream in(ExampleConfigPath());
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<std::string> lines = absl::StrSplit(text.str(), '\n');
  for (const std::string& key : ServerConfigKeys()) {
    const std::vector<std::string> parts = absl::StrSplit(key, '.');
    const std::string indent = parts.size() == 2 ? "  " : "";
    const std::string want = indent + parts.back() + ":";
    const std::string section = parts.size() == 2 ? parts[0] + ":" : "";
    std::string current_section;
    int found = -1;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (!lines[i].empty() && lines[i][0] != ' ' && lines[i][0] != '#') {
        current_section = lines[i];
      }
      if (absl::StartsWith(lines[i], want) && (section.empty() || current_section == section)) {
        found = static_cast<int>(i);
      }
    }
    ASSERT_GE(found, 0) << key << " is not in " << ExampleConfigPath();
    bool commented = false;
    for (int i = found - 1; i >= 0; --i) {
      const absl::string_view line = absl::StripLeadingAsciiWhitespace(lines[i]);
      if (absl::StartsWith(line, "#")) {
        commented = true;
        break;
      }
      if (line.empty() || line.back() == ':' || line.find(':') == absl::string_view::npos) break;
    }
    EXPECT_TRUE(commented) << key << " has no comment in " << ExampleConfigPath();
  }
}

TEST_F(ConfigTest, EmptyFileAndNoFlagsGiveTheDefaults) {
  auto from_file = LoadServerConfig({"--config", Write("empty.yaml", "# nothing\n")});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->grpc.listen, "0.0.0.0:50051");
  auto no_flags = LoadServerConfig({});
  ASSERT_TRUE(no_flags.ok()) << no_flags.status();
  EXPECT_EQ(no_flags->metrics_listen, "0.0.0.0:9090");
  EXPECT_EQ(no_flags->worker.device, "cpu");
  EXPECT_EQ(no_flags->worker.dtype, "fp32");
}

TEST_F(ConfigTest, FlagsOverrideTheFileWhateverTheirOrder) {
  const std::string path = Write("c.yaml",
                                 "workers: 2\n"
                                 "listen: 127.0.0.1:1\n"
                                 "dtype: bf16\n"
                                 "scheduler:\n"
                                 "  max_running: 8\n");
  auto config = LoadServerConfig({"--workers", "3", "--config", path, "--listen=[::1]:7000",
                                  "--set", "scheduler.max_running=16", "--device", "cuda:1",
                                  "--threads", "4", "--metrics-listen", "", "--model", "m"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 3);
  EXPECT_EQ(config->grpc.listen, "[::1]:7000");
  EXPECT_EQ(config->worker.dtype, "bf16");  // from the file, no flag
  EXPECT_EQ(config->worker.scheduler.max_running, 16);
  EXPECT_EQ(config->worker.device, "cuda:1");
  EXPECT_EQ(config->threads, 4);
  EXPECT_EQ(config->metrics_listen, "");
  EXPECT_EQ(config->model_dir, "m");  // flags: relative to the working directory
}

TEST_F(ConfigTest, UnknownKeysAreRejectedByName) {
  EXPECT_THAT(Error("workerz: 2\n"), HasSubstr("unknown config key \"workerz\""));
  EXPECT_THAT(Error("scheduler:\n  max_runing: 2\n"),
              HasSubstr("unknown config key \"scheduler.max_runing\""));
  EXPECT_THAT(Error("scheduler:\n  max_runing: 2\n"), HasSubstr("line 2"));
  EXPECT_THAT(Error("schedular:\n  max_running: 2\n"), HasSubstr("\"schedular\""));
  EXPECT_THAT(Error("prompts:\n  vqa_shrt: \"{q}\"\n"), HasSubstr("vqa_shrt"));
  auto flag = LoadServerConfig({"--worker", "2"});
  ASSERT_FALSE(flag.ok());
  EXPECT_THAT(std::string(flag.status().message()), HasSubstr("--worker"));
  auto set = LoadServerConfig({"--set", "limits.max_imag_bytes=1"});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(std::string(set.status().message()), HasSubstr("limits.max_imag_bytes"));
}

TEST_F(ConfigTest, BadValuesNameTheKey) {
  // Type errors, found while parsing.
  EXPECT_THAT(Error("scheduler:\n  max_running: lots\n"),
              HasSubstr("scheduler.max_running: expected an integer, got \"lots\""));
  EXPECT_THAT(Error("defaults:\n  top_p: high\n"), HasSubstr("defaults.top_p: expected a number"));
  EXPECT_THAT(Error("keepalive:\n  permit_without_calls: maybe\n"),
              HasSubstr("keepalive.permit_without_calls: expected true or false"));
  EXPECT_THAT(Error("workers:\n"), HasSubstr("workers: missing value"));
  EXPECT_THAT(Error("workers: [1, 2]\n"), HasSubstr("workers: expected a value, got a list"));
  EXPECT_THAT(Error("scheduler: 3\n"), HasSubstr("scheduler: expected a map"));
  EXPECT_THAT(Error("workers: {a: 1}\n"), HasSubstr("workers: expected a value, got a map"));
  EXPECT_THAT(Error("workers: [1\n"), HasSubstr("not valid YAML"));
  // Range and format errors, found by Validate().
  EXPECT_THAT(Error("workers: 0\n"), HasSubstr("workers: must be >= 1, got 0"));
  EXPECT_THAT(Error("scheduler:\n  max_running: 0\n"), HasSubstr("scheduler.max_running"));
  EXPECT_THAT(Error("limits:\n  max_image_side: 0\n"), HasSubstr("limits.max_image_side"));
  EXPECT_THAT(Error("device: gpu\n"), HasSubstr("device: expected cpu, cuda or cuda:N"));
  EXPECT_THAT(Error("dtype: fp8\n"), HasSubstr("dtype"));
  EXPECT_THAT(Error("listen: localhost\n"), HasSubstr("listen: expected HOST:PORT"));
  EXPECT_THAT(Error("metrics_listen: 0.0.0.0:99999\n"), HasSubstr("metrics_listen: bad port"));
  EXPECT_THAT(Error("defaults:\n  top_p: 1.5\n"), HasSubstr("defaults.top_p: must be in (0, 1]"));
  EXPECT_THAT(Error("defaults:\n  max_new_tokens: 5000\n"),
              HasSubstr("defaults.max_new_tokens: must be <= limits.max_new_tokens"));
  EXPECT_THAT(Error("limits:\n  max_message_bytes: 1000\n"),
              HasSubstr("limits.max_message_bytes: must be > limits.max_image_bytes"));
  EXPECT_THAT(Error("defaults:\n  num_beams: 20\n"),
              HasSubstr("defaults.num_beams: must be in [1, limits.max_num_beams (16)]"));
  EXPECT_THAT(Error("defaults:\n  num_beams: 2\n  temperature: 0.5\n"),
              HasSubstr("defaults.num_beams: beam search"));
  EXPECT_THAT(Error("limits:\n  max_prompt_tokens: 1024\n"),
              HasSubstr("limits.max_prompt_tokens: must be < scheduler.max_sequence_positions"));
  EXPECT_THAT(Error("keepalive:\n  time_seconds: 0\n"), HasSubstr("keepalive.time_seconds"));
  EXPECT_THAT(Error("security:\n  tls_cert_file: nope.pem\n"),
              HasSubstr("security.tls_cert_file: no such file"));
  Write("cert.pem", "x");
  EXPECT_THAT(Error("security:\n  tls_cert_file: cert.pem\n"),
              HasSubstr("security.tls_key_file: TLS needs both"));
  Write("ca.pem", "x");
  EXPECT_THAT(Error("security:\n  client_ca_file: ca.pem\n"),
              HasSubstr("security.client_ca_file: mTLS needs TLS"));
  EXPECT_THAT(Error("prompts:\n  vqa_short: \"Question:\"\n"), HasSubstr("prompts.vqa_short"));
  auto flag = LoadServerConfig({"--workers", "two"});
  ASSERT_FALSE(flag.ok());
  EXPECT_THAT(std::string(flag.status().message()), HasSubstr("--workers: workers: expected"));
  EXPECT_FALSE(LoadServerConfig({"--workers"}).ok());
  EXPECT_FALSE(LoadServerConfig({"--config", dir_ + "/missing.yaml"}).ok());
  // A flag followed by the next flag has no value (it was: unexpected argument "1").
  auto no_value = LoadServerConfig({"--workers", "--threads", "1"});
  ASSERT_FALSE(no_value.ok());
  EXPECT_THAT(std::string(no_value.status().message()), HasSubstr("--workers needs a value"));
}

// A key given twice in one map: yaml-cpp keeps both (the last would win), the config refuses.
TEST_F(ConfigTest, DuplicateKeysAreErrorsNamingTheKey) {
  EXPECT_THAT(Error("workers: 1\nworkers: 2\n"), HasSubstr("duplicate config key \"workers\""));
  const std::string twice = Error("scheduler:\n  max_running: 4\n  max_running: 8\n");
  EXPECT_THAT(twice, HasSubstr("duplicate config key \"scheduler.max_running\""));
  EXPECT_THAT(twice, HasSubstr("c.yaml line 3)"));
  // The same name in two sections is two keys.
  auto ok = LoadServerConfig({"--config", Write("c.yaml",
                                                "scheduler:\n  max_queue: 4\n"
                                                "caches:\n  image_cache_entries: 8\n")});
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(ConfigTest, RelativePathsInTheFileAreRelativeToIt) {
  Write("cert.pem", "x");
  Write("key.pem", "x");
  Write("ca.pem", "x");
  Write("tokens.txt", "secret\n");
  Write("prompts.json", R"({"describe": "Describe it.", "vqa_short": "Q: {q} A:"})");
  auto config = LoadServerConfig({"--config", Write("c.yaml",
                                                    "security:\n"
                                                    "  auth_token_file: tokens.txt\n"
                                                    "  tls_cert_file: cert.pem\n"
                                                    "  tls_key_file: key.pem\n"
                                                    "  client_ca_file: ca.pem\n"
                                                    "prompts:\n"
                                                    "  file: prompts.json\n"
                                                    "  vqa_short: \"Short: {q}\"\n")});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc.tls_cert_file, dir_ + "/cert.pem");
  EXPECT_EQ(config->grpc.tls_client_ca_file, dir_ + "/ca.pem");
  EXPECT_EQ(config->auth_token_file, dir_ + "/tokens.txt");
  EXPECT_EQ(config->prompts.describe, "Describe it.");                // from the JSON file
  EXPECT_EQ(config->prompts.vqa_short, "Short: {q}");                 // inline wins over the file
  EXPECT_EQ(config->prompts.chat_last, PromptTemplates().chat_last);  // default
}

TEST_F(ConfigTest, SetOptionParsesEveryType) {
  ServerConfig config;
  ASSERT_TRUE(SetServerConfigOption(&config, "limits.max_image_bytes", "123456").ok());
  ASSERT_TRUE(SetServerConfigOption(&config, "defaults.temperature", "0.7").ok());
  ASSERT_TRUE(SetServerConfigOption(&config, "keepalive.permit_without_calls", "yes").ok());
  ASSERT_TRUE(SetServerConfigOption(&config, "prompts.describe", "Look.").ok());
  EXPECT_EQ(config.limits.max_image_bytes, 123456u);
  EXPECT_DOUBLE_EQ(config.defaults.sampling.temperature, 0.7);
  EXPECT_TRUE(config.grpc.permit_keepalive_without_calls);
  ASSERT_TRUE(ResolvePromptTemplates(&config).ok());
  EXPECT_EQ(config.prompts.describe, "Look.");
  EXPECT_FALSE(SetServerConfigOption(&config, "defaults.temperature", "nan").ok());
}

// The example file sets every option to its default, and the defaults are the parts' own: one
// value per key, whichever struct declares it.
TEST_F(ConfigTest, ExampleFileSpellsEveryDefault) {
  auto example = LoadServerConfig({"--config", ExampleConfigPath()});
  ASSERT_TRUE(example.ok()) << example.status();
  const ServerConfig defaults;
  for (const std::string& key : ServerConfigKeys()) {
    if (absl::StartsWith(key, "prompts.") && key != "prompts.file") continue;
    EXPECT_EQ(ServerConfigOptionText(*example, key), ServerConfigOptionText(defaults, key)) << key;
  }
  EXPECT_EQ(defaults.limits.max_new_tokens, ServiceLimits().max_new_tokens);
  EXPECT_EQ(defaults.limits.max_new_tokens, 1024);
  EXPECT_EQ(defaults.defaults.sampling.max_new_tokens,
            GenerationDefaults().sampling.max_new_tokens);
  EXPECT_EQ(defaults.worker.scheduler.max_running, SchedulerOptions().max_running);
  EXPECT_EQ(defaults.worker.image_cache_entries, WorkerOptions().image_cache_entries);
  EXPECT_EQ(defaults.grpc.keepalive_time, GrpcServerOptions().keepalive_time);
}

// A value two parts share has one source, copied when the parts are handed their options.
TEST_F(ConfigTest, SharedValuesAreCopiedWhenHandedOver) {
  auto config = LoadServerConfig(
      {"--set", "limits.max_image_bytes=1000", "--set", "limits.max_image_pixels=2000", "--set",
       "limits.max_image_side=300", "--set", "limits.max_message_bytes=4000", "--set",
       "caches.prefix_cache_entries=5", "--device", "cuda:2"});
  ASSERT_TRUE(config.ok()) << config.status();
  const WorkerOptions worker = config->WorkerOptionsFor("/models/m", 3);
  EXPECT_EQ(worker.model_dir, "/models/m");
  EXPECT_EQ(worker.index, 3);
  EXPECT_EQ(worker.device, "cuda:2");
  EXPECT_EQ(worker.image_limits.max_bytes, 1000);
  EXPECT_EQ(worker.image_limits.max_pixels, 2000);
  EXPECT_EQ(worker.image_limits.max_side, 300);
  EXPECT_EQ(worker.scheduler.prefix_cache_entries, 5);
  ServedModelInfo info;
  info.model_dir = "/models/m";
  const ServiceOptions service = config->ServiceOptionsFor(info);
  EXPECT_EQ(service.limits.max_image_bytes, 1000u);
  EXPECT_EQ(service.limits.max_message_bytes, 4000u);
  EXPECT_EQ(service.model_info.model_dir, "/models/m");
}

}  // namespace
}  // namespace lmeye
