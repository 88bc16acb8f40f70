#include "model/ipn/adapter.h"

#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

// lmeye-tiny-opt: d_v 64, d_t 48, d_L 80, K 5.
IpnDims TinyDims() { return IpnDims{64, 48, 48, 80, 5}; }

TEST(AdapterConfigTest, ParsesFixture) {
  auto c = ReadIpnAdapterConfig(testing::TestData("models/lmeye-tiny-opt/adapter.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_fine, 5);
  EXPECT_EQ(c->combine, IpnCombine::kReplace);
  EXPECT_EQ(c->image_feature, IpnImageFeature::kPooled);
  EXPECT_FALSE(c->text_projection);
  EXPECT_TRUE(c->interaction_positions);
  EXPECT_EQ(c->llm, "llm");
}

TEST(AdapterConfigTest, RoundTripsThroughJson) {
  IpnAdapterConfig c;
  c.combine = IpnCombine::kAdd;
  c.image_feature = IpnImageFeature::kProjected;
  c.text_projection = true;
  c.num_fine = 3;
  auto back = ParseIpnAdapterConfig(IpnAdapterConfigToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->combine, IpnCombine::kAdd);
  EXPECT_EQ(back->image_feature, IpnImageFeature::kProjected);
  EXPECT_TRUE(back->text_projection);
  EXPECT_EQ(back->num_fine, 3);
}

TEST(AdapterConfigTest, ErrorsNameTheField) {
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"combine":"mix"})").status().message(),
              HasSubstr("\"combine\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"num_fine":0})").status().message(),
              HasSubstr("\"num_fine\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"num_fin":5})").status().message(),
              HasSubstr("\"num_fin\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"llm":"../x"})").status().message(), HasSubstr("\"llm\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"text_projection":"yes"})").status().message(),
              HasSubstr("\"text_projection\""));
  EXPECT_FALSE(ParseIpnAdapterConfig("[]").ok());
}

TEST(AdapterConfigTest, TheReleasedLayoutsRoundTripAndNameTheirFields) {
  IpnAdapterConfig c;
  c.layout = AdapterLayout::kLingcloudV01;
  c.lingcloud_v0_1 = {5, 356, 357, 698, 699, "request"};
  c.vision = c.llm = "blip2";
  auto back = ParseIpnAdapterConfig(IpnAdapterConfigToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->layout, AdapterLayout::kLingcloudV01);
  EXPECT_EQ(back->lingcloud_v0_1.imgq_token_id, 357);
  EXPECT_EQ(back->lingcloud_v0_1.clip_eos_id, 699);
  EXPECT_EQ(back->lingcloud_v0_1.clip_rows, "request");
  EXPECT_EQ(back->llm, "blip2");

  const std::string ids = R"("imgd_token_id":1,"imgq_token_id":2,"clip_bos_id":3,"clip_eos_id":4)";
  auto v01 = [&](const std::string& extra) {
    return ParseIpnAdapterConfig(R"({"layout":"lingcloud-v0.1","lingcloud_v0_1":{)" + ids + extra +
                                 "}}");
  };
  EXPECT_TRUE(v01("").ok()) << v01("").status();
  EXPECT_THAT(v01(R"(,"clip_rows":"first")").status().message(),
              HasSubstr("\"lingcloud_v0_1.clip_rows\""));
  EXPECT_THAT(v01(R"(,"imgd_len":0)").status().message(), HasSubstr("\"lingcloud_v0_1.imgd_len\""));
  EXPECT_THAT(v01(R"(,"query_len":5)").status().message(),
              HasSubstr("\"lingcloud_v0_1.query_len\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"layout":"lingcloud-v0.1","lingcloud_v0_1":{}})")
                  .status()
                  .message(),
              HasSubstr("\"lingcloud_v0_1.imgd_token_id\" must be given"));
  // Each layout's object belongs to it alone, and the own layout's options to none of them.
  EXPECT_THAT(
      ParseIpnAdapterConfig(R"({"layout":"lingcloud-v0","lingcloud_v0_1":{}})").status().message(),
      HasSubstr("only an option of layout \"lingcloud-v0.1\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"layout":"lingcloud-v0.1","num_fine":5,)"
                                    R"("lingcloud_v0_1":{)" +
                                    ids + "}}")
                  .status()
                  .message(),
              HasSubstr("\"num_fine\" is not an option of layout \"lingcloud-v0.1\""));
  EXPECT_THAT(ParseIpnAdapterConfig(R"({"layout":"lingcloud-v2"})").status().message(),
              HasSubstr("lingcloud-v0.1"));
}

// The v0 reading of the first pass (before or after the LLM's final norm): final_norm unless
// stated, written back, and nothing else accepted.
TEST(AdapterTest, LingcloudV0FirstPassHiddenOption) {
  const std::string ids = R"("img_token_id":1,"imgd_token_id":2,"clip_bos_id":3,"clip_eos_id":4)";
  auto v0 = [&](const std::string& extra) {
    return ParseIpnAdapterConfig(R"({"layout":"lingcloud-v0","lingcloud_v0":{)" + ids + extra +
                                 "}}");
  };
  ASSERT_TRUE(v0("").ok()) << v0("").status();
  EXPECT_EQ(v0("")->lingcloud_v0.first_pass_hidden, "final_norm");
  EXPECT_FALSE(v0("")->lingcloud_v0.first_pass_pre_norm());
  auto pre = v0(R"(,"first_pass_hidden":"pre_norm")");
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_TRUE(pre->lingcloud_v0.first_pass_pre_norm());
  auto back = ParseIpnAdapterConfig(IpnAdapterConfigToJson(*pre));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->lingcloud_v0.first_pass_hidden, "pre_norm");
  EXPECT_THAT(v0(R"(,"first_pass_hidden":"layer_2")").status().message(),
              HasSubstr("\"lingcloud_v0.first_pass_hidden\""));
}

TEST(AdapterTest, LoadsFixtureAdapter) {
  auto adapter = LoadIpnAdapter(testing::TestData("models/lmeye-tiny-opt/adapter.safetensors"),
                                TinyDims(), at::kFloat);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  at::Tensor h = (*adapter)->ImageToken(at::randn({2, 64}));
  EXPECT_EQ(h.sizes().vec(), (std::vector<int64_t>{2, 80}));
  EXPECT_EQ((*adapter)->Decompose(at::randn({3, 64})).sizes().vec(),
            (std::vector<int64_t>{3, 5, 48}));
}

TEST(AdapterTest, WrongDimsAreAClearError) {
  IpnDims dims = TinyDims();
  dims.d_l = 96;
  auto adapter = LoadIpnAdapter(testing::TestData("models/lmeye-tiny-opt/adapter.safetensors"),
                                dims, at::kFloat);
  ASSERT_FALSE(adapter.ok());
  EXPECT_THAT(adapter.status().message(), HasSubstr("ipn.img_token"));
}

class AdapterFileTest : public ::testing::Test {
 protected:
  ::lmeye::testing::ScratchDir scratch_{"lmeye_adapter"};
  std::string dir_ = scratch_.path();
};

TEST_F(AdapterFileTest, SaveLoadRoundTrip) {
  IpnAdapter a(TinyDims());
  a->ResetParameters(7);
  ASSERT_TRUE(SaveIpnAdapter(a, dir_ + "/adapter.safetensors").ok());
  auto b = LoadIpnAdapter(dir_ + "/adapter.safetensors", TinyDims(), at::kFloat);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(at::equal(a->img_token, (*b)->img_token));
  EXPECT_TRUE(at::equal(a->transmit->weight, (*b)->transmit->weight));
}

TEST_F(AdapterFileTest, MissingAndExtraTensorsAreErrors) {
  IpnAdapter a(TinyDims());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : a->named_parameters()) {
    if (p.key() != "transmit.bias") tensors.emplace_back("ipn." + p.key(), p.value().detach());
  }
  tensors.emplace_back("llm.lm_head.weight", at::zeros({2}));
  ASSERT_TRUE(WriteSafetensors(dir_ + "/bad.safetensors", tensors).ok());
  auto b = LoadIpnAdapter(dir_ + "/bad.safetensors", TinyDims(), at::kFloat);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("ipn.transmit.bias"));
}

}  // namespace
}  // namespace lmeye
