// ModelDir: the paths of a model directory follow adapter.json's backbone folders, and opening a
// folder that is not a model directory says so.
#include <gtest/gtest.h>

#include "model/ipn/model_dir.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

TEST(ModelDirTest, PathsFollowTheAdapterConfig) {
  absl::StatusOr<ModelDir> dir = ModelDir::Open(testing::TestData("models/lmeye-tiny-opt"));
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string root = testing::TestData("models/lmeye-tiny-opt");
  EXPECT_EQ(dir->adapter_config_file(), root + "/adapter.json");
  EXPECT_EQ(dir->adapter_weights_file(), root + "/adapter.safetensors");
  EXPECT_EQ(dir->vision_dir(), root + "/clip");
  EXPECT_EQ(dir->text_dir(), root + "/clip");
  EXPECT_EQ(dir->llm_dir(), root + "/llm");
  EXPECT_EQ(dir->preprocessor_config_file(), root + "/clip/preprocessor_config.json");

  IpnAdapterConfig config;
  config.vision = "vit";
  config.text = "clip-text";
  config.llm = "backbones/opt";
  const ModelDir custom("/m", config);
  EXPECT_EQ(custom.vision_dir(), "/m/vit");
  EXPECT_EQ(custom.text_dir(), "/m/clip-text");
  EXPECT_EQ(custom.llm_dir(), "/m/backbones/opt");
  EXPECT_EQ(custom.preprocessor_config_file(), "/m/vit/preprocessor_config.json");
}

TEST(ModelDirTest, AFolderWithoutAdapterJsonIsNotAModelDirectory) {
  testing::ScratchDir scratch("model_dir");
  absl::StatusOr<ModelDir> dir = ModelDir::Open(scratch.path());
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(dir.status().message().find("adapter.json"), absl::string_view::npos) << dir.status();
  EXPECT_NE(dir.status().message().find(scratch.path()), absl::string_view::npos) << dir.status();
}

TEST(ModelDirTest, ABadAdapterJsonIsAnErrorNamingIt) {
  testing::ScratchDir scratch("model_dir");
  scratch.Write("adapter.json", R"({"num_fine": 5, "combnie": "add"})");
  absl::StatusOr<ModelDir> dir = ModelDir::Open(scratch.path());
  EXPECT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("combnie"), absl::string_view::npos) << dir.status();
}

}  // namespace
}  // namespace lmeye
