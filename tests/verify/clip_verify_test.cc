// `lmeye verify` on CLIP model directories: every golden of the shipped CLIP fixtures is
// recomputed within the golden rule (fp32), a full CLIPModel directory is understood, and a damaged
// checkpoint fails verification.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "model/verify/golden.h"
#include "model/verify/verifier.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

// Every golden.json tensor that is not an INPUT must be compared and within tolerance.
void ExpectAllGoldensMatch(const std::string& fixture, int expected_compared) {
  const std::string dir = testing::TestData("models/" + fixture);
  auto report = VerifyModelDir(dir, VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  std::printf("%s", FormatReport(*report).c_str());
  EXPECT_EQ(report->recomputer, "clip");
  EXPECT_TRUE(report->passed());
  EXPECT_EQ(report->n_failed, 0);
  EXPECT_EQ(report->n_compared, expected_compared);
  auto golden = GoldenSet::Open(dir);
  ASSERT_TRUE(golden.ok()) << golden.status();
  for (const VerifyLine& line : report->lines) {
    if ((*golden)->IsInput(line.name)) {
      EXPECT_EQ(line.status, "skipped") << line.name;
    } else {
      EXPECT_EQ(line.status, "ok") << line.name << ": " << line.note;
    }
  }
}

TEST(ClipVerifyTest, VisionFixtureMatchesEveryGolden) {
  // embeddings, hidden_states.0-2, last_hidden_state, pooler_output, image_embeds.
  ExpectAllGoldensMatch("clip-vision-tiny", 7);
}

TEST(ClipVerifyTest, TextFixtureMatchesEveryGolden) {
  // pool_index, hidden_states.0-2, last_hidden_state, pooler_output, text_embeds, embeds_* x2,
  // direct_* x2.
  ExpectAllGoldensMatch("clip-text-tiny", 11);
}

TEST(ClipVerifyTest, PoolIndexIsComparedExactly) {
  auto report = VerifyModelDir(testing::TestData("models/clip-text-tiny"), VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  bool found = false;
  for (const VerifyLine& line : report->lines) {
    if (line.name == "pool_index") {
      found = true;
      EXPECT_TRUE(line.exact);
      EXPECT_EQ(line.status, "ok");
    }
  }
  EXPECT_TRUE(found);
}

TEST(ClipVerifyTest, RecognisesOnlyClipGoldens) {
  auto recomputer = MakeClipGoldenRecomputer();
  for (const char* fixture : {"clip-vision-tiny", "clip-text-tiny"}) {
    auto golden = GoldenSet::Open(testing::TestData(std::string("models/") + fixture));
    ASSERT_TRUE(golden.ok()) << golden.status();
    EXPECT_TRUE(recomputer->Handles(**golden)) << fixture;
  }
  for (const char* fixture : {"opt-tiny", "lmeye-tiny-opt"}) {
    auto golden = GoldenSet::Open(testing::TestData(std::string("models/") + fixture));
    ASSERT_TRUE(golden.ok()) << golden.status();
    EXPECT_FALSE(recomputer->Handles(**golden)) << fixture;
  }
}

// Writes golden.json (model_class, tensor descriptions) + golden.safetensors into `dir`.
void WriteGoldens(const std::string& dir, const std::string& model_class,
                  const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::set<std::string>& inputs) {
  nlohmann::json spec = {{"model_class", model_class}, {"tensors", nlohmann::json::object()}};
  for (const auto& [name, t] : tensors) {
    spec["tensors"][name] = {{"description", inputs.count(name) ? "INPUT. test" : "test"}};
  }
  std::ofstream(dir + "/golden.json") << spec.dump(1);
  ASSERT_TRUE(WriteSafetensors(dir + "/golden.safetensors", tensors).ok());
}

TEST(ClipVerifyTest, FullClipModelDirectory) {
  // The LMEye fixture's CLIPModel, checked against that fixture's Hugging Face vision goldens,
  // named as a CLIPModel golden names them.
  namespace fs = std::filesystem;
  const std::string lmeye = testing::TestData("models/lmeye-tiny-opt");
  const std::string dir = ::testing::TempDir() + "/clip_full_model_verify";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"}) {
    fs::copy_file(lmeye + "/clip/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  }
  auto lmeye_golden = GoldenSet::Open(lmeye);
  ASSERT_TRUE(lmeye_golden.ok()) << lmeye_golden.status();
  auto get = [&](const std::string& name) { return *(*lmeye_golden)->Get(name); };
  at::Tensor pooled = at::stack({get("s0.vision.pooler_output"), get("s1.vision.pooler_output")});
  at::Tensor embeds = at::stack({get("s0.vision.image_embeds"), get("s1.vision.image_embeds")});
  WriteGoldens(dir, "CLIPModel",
               {{"pixel_values", get("pixel_values")},
                {"vision_model_output.pooler_output", pooled},
                {"image_embeds", embeds / embeds.norm(2, -1, true)}},
               {"pixel_values"});
  auto report = VerifyModelDir(dir, VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  std::printf("%s", FormatReport(*report).c_str());
  EXPECT_TRUE(report->passed());
  EXPECT_EQ(report->n_compared, 2);
}

TEST(ClipVerifyTest, DamagedCheckpointFails) {
  namespace fs = std::filesystem;
  const std::string src = testing::TestData("models/clip-vision-tiny");
  const std::string dir = ::testing::TempDir() + "/clip_vision_damaged";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "golden.json", "golden.safetensors"}) {
    fs::copy_file(src + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  }
  auto file = SafetensorsFile::Open(src + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& e : (*file)->entries()) {
    at::Tensor t = *(*file)->Load(e.name);
    // A scaled weight, not a shifted bias: a constant shift vanishes in post_layernorm.
    if (e.name == "vision_model.encoder.layers.1.mlp.fc2.weight") t = t * 1.01;
    tensors.emplace_back(e.name, t);
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
  auto report = VerifyModelDir(dir, VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->passed());
  std::set<std::string> failed;
  for (const VerifyLine& line : report->lines) {
    if (line.status == "FAIL") failed.insert(line.name);
  }
  // Layer 1's output onwards; the embeddings and layer 0 are untouched.
  EXPECT_THAT(failed, ::testing::Contains("hidden_states.2"));
  EXPECT_THAT(failed, ::testing::Contains("pooler_output"));
  EXPECT_EQ(failed.count("hidden_states.1"), 0u);
  EXPECT_EQ(failed.count("embeddings"), 0u);
}

TEST(ClipVerifyTest, MissingWeightsAreAClearError) {
  namespace fs = std::filesystem;
  const std::string src = testing::TestData("models/clip-text-tiny");
  const std::string dir = ::testing::TempDir() + "/clip_text_no_weights";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "golden.json", "golden.safetensors"}) {
    fs::copy_file(src + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  }
  fs::remove(dir + "/model.safetensors");
  auto report = VerifyModelDir(dir, VerifyOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()), HasSubstr(dir));
}

}  // namespace
}  // namespace lmeye
