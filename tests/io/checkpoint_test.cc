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

// Hugging Face checkpoints saved with torch.save
// (tests/data/checkpoints/make_torch_checkpoints.py).
TEST_F(CheckpointTest, OpensPytorchModelBin) {
  auto ckpt = Checkpoint::Open(testing::TestData("checkpoints/hf_single"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->names(),
            (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight",
                                      "model.layers.0.mlp.down_proj.weight",
                                      "model.layers.0.mlp.up_proj.weight", "model.norm.weight"}));
  const CheckpointTensorInfo* up = (*ckpt)->Info("model.layers.0.mlp.up_proj.weight");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->dtype, at::kBFloat16);
  EXPECT_EQ(up->shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ((*ckpt)->Info("missing"), nullptr);
  EXPECT_EQ((*ckpt)->Find("model.norm.weight"), nullptr);  // not a safetensors entry
  auto embed = (*ckpt)->Load("model.embed_tokens.weight", at::kFloat);
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_TRUE(at::equal(*embed, at::arange(20, at::kFloat).mul(0.25).sub(2).view({5, 4})));
  auto tied = (*ckpt)->Load("lm_head.weight", at::kBFloat16);  // shares embed's storage
  ASSERT_TRUE(tied.ok()) << tied.status();
  EXPECT_EQ(tied->scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(*tied, embed->to(at::kBFloat16)));
  auto down = (*ckpt)->Load("model.layers.0.mlp.down_proj.weight", at::kFloat);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(down->sizes().vec(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ((*ckpt)->Load("missing", at::kFloat).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, OpensShardedPytorchModelBin) {
  auto sharded = Checkpoint::Open(testing::TestData("checkpoints/hf_sharded"));
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  auto single = Checkpoint::Open(testing::TestData("checkpoints/hf_single"));
  ASSERT_TRUE(single.ok()) << single.status();
  ASSERT_EQ((*sharded)->names(), (*single)->names());
  for (const std::string& name : (*single)->names()) {
    EXPECT_EQ((*sharded)->Info(name)->shape, (*single)->Info(name)->shape) << name;
    auto a = (*sharded)->Load(name, at::kFloat);
    auto b = (*single)->Load(name, at::kFloat);
    ASSERT_TRUE(a.ok() && b.ok()) << name;
    EXPECT_TRUE(at::equal(*a, *b)) << name;
  }
}

TEST_F(CheckpointTest, PytorchModelBinIndexErrors) {
  const std::string shard = "pytorch_model-00001-of-00002.bin";
  std::filesystem::copy_file(testing::TestData("checkpoints/hf_sharded/" + shard),
                             dir_ + "/" + shard);
  std::ofstream(dir_ + "/pytorch_model.bin.index.json")
      << R"({"weight_map":{"model.norm.weight":")" << shard << R"(","ghost":")" << shard
      << R"("}})";
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_THAT(ckpt.status().message(), HasSubstr("\"ghost\" is mapped to " + shard));
  // A damaged shard is an error naming it.
  std::ofstream(dir_ + "/" + shard, std::ios::trunc) << "not a checkpoint";
  ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_THAT(ckpt.status().message(), HasSubstr(shard));
}

TEST_F(CheckpointTest, SafetensorsArePreferredOverPytorchModelBin) {
  std::filesystem::copy_file(testing::TestData("checkpoints/hf_single/pytorch_model.bin"),
                             dir_ + "/pytorch_model.bin");
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model.safetensors", {{"only", at::ones({1})}}).ok());
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->names(), (std::vector<std::string>{"only"}));
  EXPECT_NE((*ckpt)->Find("only"), nullptr);
  EXPECT_EQ((*ckpt)->Info("only")->dtype, at::kFloat);
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

TEST_F(CheckpointTest, ModuleLoaderLoadsFromPytorchModelBin) {
  struct NormImpl : torch::nn::Module {
    NormImpl() { weight = register_parameter("weight", at::zeros({4})); }
    at::Tensor weight;
  } norm;
  auto ckpt = Checkpoint::Open(testing::TestData("checkpoints/hf_single"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  LoadOptions options;
  options.prefix = "model.norm.";
  ASSERT_TRUE(LoadModuleWeights(norm, **ckpt, options).ok());
  EXPECT_TRUE(at::equal(norm.weight, at::tensor({1.0f, 1.5f, 2.0f, 2.5f})));
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
