#include "model/io/checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "model/io/module_loader.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

class CheckpointTest : public ::testing::Test {
 protected:
  void WriteIndex(const std::string& json) {
    std::ofstream(dir_ + "/model.safetensors.index.json") << json;
  }
  ::lmeye::testing::ScratchDir scratch_{"lmeye_ckpt"};
  std::string dir_ = scratch_.path();
};

TEST_F(CheckpointTest, OpensSingleFileDirectory) {
  auto ckpt = Checkpoint::Open(testing::TestData("models/llama-tiny"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->names().size(), 21u);
  auto t = (*ckpt)->Load("lm_head.weight", at::kBFloat16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->scalar_type(), at::kBFloat16);
}

TEST_F(CheckpointTest, OpensShardedCheckpoint) {
  ASSERT_TRUE(
      WriteSafetensors(dir_ + "/model-00001-of-00002.safetensors", {{"a.weight", at::ones({2, 2})}})
          .ok());
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model-00002-of-00002.safetensors",
                               {{"b.weight", at::full({3}, 2.0).to(at::kHalf)}})
                  .ok());
  WriteIndex(R"({"metadata":{"total_size":22},"weight_map":{)"
             R"("a.weight":"model-00001-of-00002.safetensors",)"
             R"("b.weight":"model-00002-of-00002.safetensors"}})");
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->names(), (std::vector<std::string>{"a.weight", "b.weight"}));
  auto b = (*ckpt)->Load("b.weight", at::kFloat);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(at::equal(*b, at::full({3}, 2.0)));
}

TEST_F(CheckpointTest, IndexNamingATensorTheShardLacksIsAnError) {
  ASSERT_TRUE(WriteSafetensors(dir_ + "/s1.safetensors", {{"a", at::ones({1})}}).ok());
  WriteIndex(R"({"weight_map":{"a":"s1.safetensors","ghost":"s1.safetensors"}})");
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_THAT(ckpt.status().message(), HasSubstr("ghost"));
}

TEST_F(CheckpointTest, IndexErrors) {
  WriteIndex("not json");
  EXPECT_EQ(Checkpoint::Open(dir_).status().code(), absl::StatusCode::kInvalidArgument);
  WriteIndex(R"({"weight_map":{"a":"missing.safetensors"}})");
  EXPECT_EQ(Checkpoint::Open(dir_).status().code(), absl::StatusCode::kNotFound);
  WriteIndex(R"({"weight_map":{"a":"../etc/passwd"}})");
  EXPECT_THAT(Checkpoint::Open(dir_).status().message(), HasSubstr("plain file name"));
}

TEST_F(CheckpointTest, EmptyDirectoryIsNotFound) {
  auto ckpt = Checkpoint::Open(dir_);
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ckpt.status().message(), HasSubstr("model.safetensors"));
}

struct TinyImpl : torch::nn::Module {
  TinyImpl() { proj = register_module("proj", torch::nn::Linear(3, 2)); }
  torch::nn::Linear proj{nullptr};
};

TEST_F(CheckpointTest, ModuleLoaderLoadsByName) {
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model.safetensors",
                               {{"m.proj.weight", at::ones({2, 3}).to(at::kBFloat16)},
                                {"m.proj.bias", at::zeros({2})}})
                  .ok());
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok());
  TinyImpl tiny;
  LoadOptions options;
  options.prefix = "m.";
  ASSERT_TRUE(LoadModuleWeights(tiny, **ckpt, options).ok());
  EXPECT_TRUE(at::equal(tiny.proj->weight, at::ones({2, 3})));
}

TEST_F(CheckpointTest, ModuleLoaderNamesMissingMismatchedAndExtraTensors) {
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model.safetensors",
                               {{"proj.weight", at::ones({3, 3})}, {"stray", at::ones({1})}})
                  .ok());
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok());
  TinyImpl tiny;
  absl::Status s = LoadModuleWeights(tiny, **ckpt, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("missing tensors: proj.bias"));
  EXPECT_THAT(s.message(), HasSubstr("proj.weight (checkpoint [3,3], model [2,3])"));
  EXPECT_THAT(s.message(), HasSubstr("unexpected tensors: stray"));
}

}  // namespace
}  // namespace lmeye
