// The torch.save reader on the LingCloud fixtures (real torch, legacy format), on the files of
// tests/data/checkpoints/make_torch_checkpoints.py (zip and legacy layouts, every dtype, views,
// DDP names, Hugging Face files) and on libtorch's own zip output, and its errors on damaged files.
#include "model/io/torch_checkpoint.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <nlohmann/json.hpp>

#include "model/common/file_util.h"
#include "model/io/safetensors.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Checkpoints(const std::string& name) { return TestData("checkpoints/" + name); }

std::string ReadBytes(const std::string& path) {
  auto bytes = ReadFileToString(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

std::vector<std::string> Names(const std::vector<TorchTensorInfo>& infos) {
  std::vector<std::string> out;
  for (const TorchTensorInfo& i : infos) out.push_back(i.name);
  return out;
}

at::Tensor Arange(int64_t n, double scale, double shift) {
  return at::arange(n, at::kDouble) * scale + shift;
}

// --- the LingCloud v0 fixtures: written by real torch in the legacy format
// ------------------------

class LingCloudFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dir_ = TestData("models/" + GetParam());
};

TEST_P(LingCloudFixtureTest, NetMatchesGoldenDescription) {
  auto ckpt = TorchCheckpoint::Open(dir_ + "/lingcloud_checkpoint.pth");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->format(), TorchFormat::kLegacy);
  std::vector<TorchTopLevelEntry> top = (*ckpt)->TopLevel();
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].key, "net");
  EXPECT_EQ(top[0].summary, "dict of 10 tensors");
  EXPECT_EQ(top[1].key, "optimizer");
  EXPECT_EQ(top[1].summary, "dict (2 entries)");
  EXPECT_EQ(top[2].key, "epoch");
  EXPECT_EQ(top[2].summary, "int 4");

  auto golden = ReadJsonFile(dir_ + "/golden.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  const nlohmann::json& expected = (*golden)["checkpoint"]["net"];
  auto net = (*ckpt)->Tensors("net");
  ASSERT_TRUE(net.ok()) << net.status();
  ASSERT_EQ(net->size(), expected.size());
  for (size_t i = 0; i < net->size(); ++i) {
    const TorchTensorInfo& t = (*net)[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, expected[i]["key"].get<std::string>());  // named_parameters() order
    EXPECT_EQ(expected[i]["dtype"], "float16");
    EXPECT_EQ(t.dtype, at::kHalf);
    EXPECT_EQ(t.shape, expected[i]["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.requires_grad, expected[i]["requires_grad"].get<bool>());
    EXPECT_TRUE(t.is_parameter);
    auto value = (*ckpt)->Load(t);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(value->sizes().vec(), t.shape);
    EXPECT_EQ(value->scalar_type(), at::kHalf);
  }
}

TEST_P(LingCloudFixtureTest, OptimizerIsSkippedAndOtherEntriesAreReported) {
  auto ckpt = TorchCheckpoint::Open(dir_ + "/lingcloud_checkpoint.pth");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  // The AdamW state parsed (its tensors are records, never read); asking for it as a state dict
  // names the first value that is no tensor.
  auto optimizer = (*ckpt)->Tensors("optimizer");
  ASSERT_FALSE(optimizer.ok());
  EXPECT_THAT(optimizer.status().message(),
              HasSubstr("entry \"optimizer\", tensor \"state\": value is a dict"));
  auto epoch = (*ckpt)->Tensors("epoch");
  EXPECT_THAT(epoch.status().message(), HasSubstr("entry \"epoch\" is a int 4, not a dict"));
  auto missing = (*ckpt)->Tensors("model");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("no top-level entry \"model\" (entries: net, optimizer, epoch)"));
  EXPECT_THAT((*ckpt)->Tensors("").status().message(),
              HasSubstr("tensor \"net\": value is a dict"));
}

// The values, against goldens computed by the reference from the same file: the two embeddings
// directly, and each Linear through one golden input/output pair.
TEST_P(LingCloudFixtureTest, ValuesMatchTheReferenceComputation) {
  auto net = ReadTorchCheckpoint(dir_ + "/lingcloud_checkpoint.pth", "net");
  ASSERT_TRUE(net.ok()) << net.status();
  std::map<std::string, at::Tensor> w;
  for (const TorchNamedTensor& t : *net) w[t.name] = t.tensor.to(at::kFloat);
  auto golden = [&](const char* name) { return testing::LoadGolden(dir_, name); };
  // The release's loader lets embedding_imgd overwrite embedding_img (golden.json
  // release_loader); the goldens store both values, float16 -> float32 exactly.
  EXPECT_TRUE(at::equal(w["embedding_imgd"].flatten(), golden("ipn.effective.embedding_img")));
  EXPECT_TRUE(at::equal(w["embedding_img"].flatten(), golden("ipn.stored.embedding_img")));

  auto linear = [&](const std::string& layer, const at::Tensor& x) {
    return at::linear(x, w[layer + ".weight"], w[layer + ".bias"]);
  };
  const at::Tensor feat = golden("s0.clip_img_feat");
  EXPECT_TRUE(testing::MatchesGolden(linear("imgLinear", feat), golden("s0.img_prompt")));
  EXPECT_TRUE(testing::MatchesGolden(linear("promptMlp", feat).view({5, -1}),
                                     golden("s0.clip_soft_prompt")));
  EXPECT_TRUE(testing::MatchesGolden(linear("llm2clip", golden("s0.pre_query.hidden")),
                                     golden("s0.pre_query")));
  EXPECT_TRUE(
      testing::MatchesGolden(linear("imgdLinear", golden("s0.clip_text_feature")).view({5, -1}),
                             golden("s0.imgd_prompt")));
  EXPECT_FALSE((*net)[0].requires_grad);  // embedding_img is frozen
  EXPECT_TRUE((*net)[1].requires_grad);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LingCloudFixtureTest,
                         ::testing::Values("lingcloud-v0-tiny-llama", "lingcloud-v0-tiny-bloom"));

// --- generated files -----------------------------------------------------------------------------

// zip_state_dict.pt (protocol 2, an OrderedDict with _metadata) and zip_protocol4.pt (the same
// dict with pickle_protocol=4) hold the same tensors.
class ZipStateDictTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ZipStateDictTest, EveryDtypeViewAndShape) {
  auto ckpt = TorchCheckpoint::Open(Checkpoints(GetParam()));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->format(), TorchFormat::kZip);
  auto infos = (*ckpt)->Tensors("");
  ASSERT_TRUE(infos.ok()) << infos.status();
  EXPECT_THAT(Names(*infos), ElementsAre("base.weight", "base.weight_t", "base.row2", "base.cols",
                                         "half.weight", "bf16.weight", "scale", "empty", "steps",
                                         "ids", "pixels", "mask", "f64"));
  std::map<std::string, at::Tensor> t;
  for (const TorchTensorInfo& info : *infos) {
    auto value = (*ckpt)->Load(info);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_TRUE(value->is_contiguous()) << info.name;
    EXPECT_EQ(value->scalar_type(), info.dtype) << info.name;
    EXPECT_EQ(value->sizes().vec(), info.shape) << info.name;
    EXPECT_FALSE(info.requires_grad);
    EXPECT_FALSE(info.is_parameter);
    t[info.name] = *value;
  }
  // Four views of one float32 storage.
  EXPECT_EQ((*infos)[0].storage_key, (*infos)[3].storage_key);
  EXPECT_NE((*infos)[0].storage_key, (*infos)[4].storage_key);
  const at::Tensor base = Arange(24, 0.5, -3).to(at::kFloat).view({4, 6});
  EXPECT_TRUE(at::equal(t["base.weight"], base));
  EXPECT_TRUE(at::equal(t["base.weight_t"], base.t()));
  EXPECT_TRUE(at::equal(t["base.row2"], base[2]));
  EXPECT_TRUE(at::equal(t["base.cols"], base.slice(0, 1).slice(1, 0, 6, 2)));
  EXPECT_EQ(t["half.weight"].scalar_type(), at::kHalf);
  EXPECT_TRUE(at::equal(t["half.weight"], Arange(6, 0.25, -0.625).to(at::kHalf).view({3, 2})));
  EXPECT_EQ(t["bf16.weight"].scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(t["bf16.weight"], Arange(6, 0.5, -1).to(at::kBFloat16).view({2, 3})));
  EXPECT_EQ(t["scale"].dim(), 0);
  EXPECT_EQ(t["scale"].item<float>(), 2.5f);
  EXPECT_EQ(t["empty"].sizes().vec(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(t["steps"].scalar_type(), at::kLong);
  EXPECT_EQ(t["steps"][2].item<int64_t>(), 3000000000);
  EXPECT_EQ(t["steps"][1].item<int64_t>(), -2);
  EXPECT_EQ(t["ids"].scalar_type(), at::kInt);
  EXPECT_EQ(t["ids"][1].item<int>(), -8);
  EXPECT_EQ(t["pixels"].scalar_type(), at::kByte);
  EXPECT_EQ(t["pixels"][2].item<uint8_t>(), 255);
  EXPECT_EQ(t["mask"].scalar_type(), at::kBool);
  EXPECT_TRUE(at::equal(t["mask"], at::tensor({1, 0, 1, 1}).to(at::kBool)));
  EXPECT_EQ(t["f64"].scalar_type(), at::kDouble);
  EXPECT_EQ(t["f64"][0].item<double>(), 1.0 / 3);
}

INSTANTIATE_TEST_SUITE_P(Files, ZipStateDictTest,
                         ::testing::Values("zip_state_dict.pt", "zip_protocol4.pt"));

TEST(TorchCheckpointTest, LegacyDdpCheckpointWithPrefixStripped) {
  const std::string path = Checkpoints("legacy_ddp.pth");
  auto ckpt = TorchCheckpoint::Open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->format(), TorchFormat::kLegacy);
  auto raw = (*ckpt)->Tensors("net");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_THAT(Names(*raw), ElementsAre("module.proj.weight", "module.proj.bias", "module.emb"));

  TorchReadOptions strip;
  strip.strip_ddp_prefix = true;
  auto net = ReadTorchCheckpoint(path, "net", strip);
  ASSERT_TRUE(net.ok()) << net.status();
  ASSERT_EQ(net->size(), 3u);
  EXPECT_EQ((*net)[0].name, "proj.weight");
  EXPECT_TRUE(at::equal((*net)[0].tensor, Arange(12, 0.125, -1).to(at::kFloat).view({3, 4})));
  EXPECT_TRUE((*net)[0].requires_grad);
  EXPECT_EQ((*net)[1].name, "proj.bias");
  EXPECT_TRUE(at::equal((*net)[1].tensor, at::tensor({0.5f, -0.5f, 1.5f})));
  EXPECT_FALSE((*net)[1].requires_grad);
  EXPECT_EQ((*net)[2].name, "emb");
  EXPECT_TRUE(at::equal((*net)[2].tensor, Arange(8, 0.5, -2).to(at::kBFloat16).view({2, 4})));
  std::vector<TorchTopLevelEntry> top = (*ckpt)->TopLevel();
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[2].summary, "int 1");
}

// Written by libtorch 1.13.1 (C++), the same miniz writer torch.save uses; its data.pkl comes
// from libtorch's own pickler (restore_type_tag, MARK-style tuples, memoized persistent ids).
TEST(TorchCheckpointTest, LibtorchPickleSave) {
  // Built exactly so: libtorch's pickler memoizes a tensor only while something else holds it.
  c10::Dict<std::string, at::Tensor> dict;
  const at::Tensor base = at::arange(12, at::kFloat);
  dict.insert("a", base.view({3, 4}));
  dict.insert("b", base.view({3, 4}).t());
  dict.insert("c", at::ones({2}, at::kHalf));
  const std::vector<char> saved = torch::pickle_save(c10::IValue(dict));
  const at::Tensor a = base.view({3, 4});
  const std::string committed = ReadBytes(Checkpoints("libtorch_pickle_save.pt"));
  EXPECT_EQ(std::string(saved.begin(), saved.end()), committed)
      << "libtorch_pickle_save.pt is not what this libtorch writes";

  auto ckpt = TorchCheckpoint::FromBytes("libtorch", std::string(saved.begin(), saved.end()));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto infos = (*ckpt)->Tensors("");
  ASSERT_TRUE(infos.ok()) << infos.status();
  ASSERT_THAT(Names(*infos), ElementsAre("a", "b", "c"));
  EXPECT_EQ((*infos)[0].storage_key, (*infos)[1].storage_key);
  auto b = (*ckpt)->Load((*infos)[1]);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(at::equal(*b, a.t()));
  auto c = (*ckpt)->Load((*infos)[2]);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(at::equal(*c, at::ones({2}, at::kHalf)));
}

// --- damaged files: each a clear error naming the file and what is wrong
// --------------------------

std::string OpenError(const std::string& name) {
  auto ckpt = TorchCheckpoint::Open(Checkpoints(name));
  EXPECT_FALSE(ckpt.ok()) << name;
  if (ckpt.ok()) return "";
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ckpt.status().message(), HasSubstr(name));
  return std::string(ckpt.status().message());
}

TEST(TorchCheckpointErrorsTest, DisallowedGlobalIsNamedAndNeverRun) {
  EXPECT_THAT(OpenError("bad_global.pt"), HasSubstr("zip member bad_global/data.pkl: pickle byte"));
  EXPECT_THAT(OpenError("bad_global.pt"), HasSubstr("global posix.system is not allowed"));
}

TEST(TorchCheckpointErrorsTest, ZipStructure) {
  EXPECT_THAT(OpenError("bad_missing_data_pkl.pt"), HasSubstr("without an <archive>/data.pkl"));
  EXPECT_THAT(OpenError("bad_local_header.pt"),
              HasSubstr("zip member bad/data/0: no local header at offset"));
  EXPECT_THAT(OpenError("bad_member_size.pt"),
              HasSubstr("zip member bad/data/0: data descriptor disagrees"));
  EXPECT_THAT(OpenError("bad_storage_bytes.pt"),
              HasSubstr("zip member bad/data/0 holds 8 bytes, the pickle says 4 x Float = 16"));
}

TEST(TorchCheckpointErrorsTest, StorageTooShortNamesTheTensor) {
  auto ckpt = TorchCheckpoint::Open(Checkpoints("bad_storage_short.pth"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto infos = (*ckpt)->Tensors("");
  ASSERT_FALSE(infos.ok());
  EXPECT_THAT(infos.status().message(),
              HasSubstr("bad_storage_short.pth: tensor \"w\": needs "
                        "elements [0, 10) of storage '0', which holds 8"));
}

TEST(TorchCheckpointErrorsTest, CorruptDataFailsItsCrc) {
  auto ckpt = TorchCheckpoint::Open(Checkpoints("bad_crc.pt"));
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto infos = (*ckpt)->Tensors("");
  ASSERT_TRUE(infos.ok()) << infos.status();
  auto w = (*ckpt)->Load((*infos)[0]);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(),
              HasSubstr("bad_crc.pt: tensor \"w\": zip member bad/data/0: CRC-32 mismatch"));
}

TEST(TorchCheckpointErrorsTest, NotACheckpoint) {
  const std::string fixture =
      ReadBytes(TestData("models/lingcloud-v0-tiny-llama/lingcloud_checkpoint.pth"));
  std::string wrong_magic = fixture;
  wrong_magic[5] ^= 0x40;
  auto ckpt = TorchCheckpoint::FromBytes("wrong_magic.pth", wrong_magic);
  EXPECT_THAT(ckpt.status().message(),
              HasSubstr("wrong_magic.pth: not a torch checkpoint (no zip header, and no legacy "
                        "magic number)"));
  EXPECT_THAT(TorchCheckpoint::FromBytes("text.pt", "hello").status().message(),
              HasSubstr("text.pt: neither a zip archive nor torch's legacy pickle format"));
  EXPECT_THAT(TorchCheckpoint::FromBytes("empty.pt", "").status().message(),
              HasSubstr("empty.pt: file is empty"));
  EXPECT_EQ(TorchCheckpoint::Open(Checkpoints("no_such_file.pt")).status().code(),
            absl::StatusCode::kNotFound);
  // An unknown opcode where the main pickle's first object should be (byte 139).
  std::string bad_opcode = fixture;
  bad_opcode[139] = '\xff';
  EXPECT_THAT(TorchCheckpoint::FromBytes("opcode.pth", bad_opcode).status().message(),
              HasSubstr("opcode.pth: object pickle: pickle byte 139 (0xff): unknown opcode 0xff"));
  // Data after the last storage.
  EXPECT_THAT(TorchCheckpoint::FromBytes("tail.pth", fixture + "x").status().message(),
              HasSubstr("1 unexpected bytes after the last storage"));
}

// Every proper prefix of a checkpoint is an error naming the file: the legacy format's sections
// and counts, and the zip format's end records, leave no prefix that parses.
TEST(TorchCheckpointErrorsTest, TruncatedAnywhereIsAnError) {
  const std::vector<std::string> files = {
      TestData("models/lingcloud-v0-tiny-llama/lingcloud_checkpoint.pth"),
      Checkpoints("zip_state_dict.pt"), Checkpoints("legacy_ddp.pth"),
      Checkpoints("hf_single/pytorch_model.bin")};
  int n_checked = 0;
  for (const std::string& path : files) {
    const std::string bytes = ReadBytes(path);
    // Every offset through the pickles, then a stride through the tensor data.
    for (size_t cut = 0; cut < bytes.size(); cut += cut < 4096 ? 1 : 509) {
      auto ckpt = TorchCheckpoint::FromBytes("cut.pth", bytes.substr(0, cut));
      ASSERT_FALSE(ckpt.ok()) << path << " cut at " << cut;
      ASSERT_THAT(ckpt.status().message(), HasSubstr("torch checkpoint cut.pth: "));
      ++n_checked;
    }
  }
  EXPECT_GT(n_checked, 9000);
}

}  // namespace
}  // namespace lmeye
