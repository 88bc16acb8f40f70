#include "model/io/safetensors.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

// A scratch directory removed at the end of each test.
class SafetensorsTest : public ::testing::Test {
 protected:
  // Writes a raw safetensors file: 8-byte header length, `header`, then `data_bytes` zero bytes.
  std::string WriteRaw(const std::string& name, const std::string& header, size_t data_bytes,
                       uint64_t header_len_override = kUseHeaderSize) {
    std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary);
    uint64_t len = header_len_override != kUseHeaderSize ? header_len_override : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(len >> (8 * i)));
    out << header << std::string(data_bytes, '\0');
    return path;
  }

  absl::Status OpenStatus(const std::string& path) {
    auto f = SafetensorsFile::Open(path);
    return f.status();
  }

  static constexpr uint64_t kUseHeaderSize = ~0ull;
  ::lmeye::testing::ScratchDir scratch_{"lmeye_st"};
  std::string dir_ = scratch_.path();
};

TEST_F(SafetensorsTest, ReadsFixtureCheckpoint) {
  auto file = SafetensorsFile::Open(testing::TestData("models/opt-tiny/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->entries().size(), 36u);
  auto t = (*file)->Load("model.decoder.embed_tokens.weight");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->sizes().vec(), (std::vector<int64_t>{1000, 64}));
  EXPECT_EQ(t->scalar_type(), at::kFloat);
  EXPECT_TRUE((*file)->metadata().count("format"));
}

TEST_F(SafetensorsTest, ValidHandMadeFile) {
  auto path = WriteRaw("ok.safetensors",
                       R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}})",
                       19);
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->entries().size(), 2u);
  auto b = (*f)->Load("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scalar_type(), at::kByte);
  EXPECT_FALSE((*f)->Load("missing").ok());
}

TEST_F(SafetensorsTest, FileShorterThanHeaderLength) {
  std::string path = dir_ + "/tiny.safetensors";
  std::ofstream(path) << "abc";
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tiny.safetensors"));
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFile) {
  auto path = WriteRaw("hlen.safetensors", "{}", 0, /*header_len_override=*/1 << 20);
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("runs past the end of the file"));
}

TEST_F(SafetensorsTest, HugeHeaderLengthDoesNotOverflow) {
  auto path = WriteRaw("hlen2.safetensors", "{}", 0, /*header_len_override=*/~0ull - 1);
  EXPECT_EQ(OpenStatus(path).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SafetensorsTest, InvalidJson) {
  auto path = WriteRaw("json.safetensors", R"({"a": {"dtype": )", 0);
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not valid JSON"));
}

TEST_F(SafetensorsTest, UnknownDtype) {
  auto path =
      WriteRaw("dtype.safetensors", R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8);
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tensor \"w\""));
  EXPECT_THAT(s.message(), HasSubstr("F64"));
}

TEST_F(SafetensorsTest, ShapeDoesNotMatchByteSpan) {
  auto path =
      WriteRaw("shape.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tensor \"w\""));
  EXPECT_THAT(s.message(), HasSubstr("12 bytes"));
}

TEST_F(SafetensorsTest, ShapeOverflowIsRejected) {
  auto path =
      WriteRaw("overflow.safetensors",
               R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0);
  EXPECT_EQ(OpenStatus(path).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SafetensorsTest, NegativeDimension) {
  auto path =
      WriteRaw("neg.safetensors", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  EXPECT_THAT(OpenStatus(path).message(), HasSubstr("negative"));
}

TEST_F(SafetensorsTest, TruncatedData) {
  auto path = WriteRaw("trunc.safetensors",
                       R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 10);
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("past the data buffer"));
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  auto path = WriteRaw("overlap.safetensors",
                       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                       24);
  absl::Status s = OpenStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("overlaps"));
}

TEST_F(SafetensorsTest, ReversedOffsets) {
  auto path =
      WriteRaw("rev.safetensors", R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", 8);
  EXPECT_THAT(OpenStatus(path).message(), HasSubstr("begin 8 > end 0"));
}

TEST_F(SafetensorsTest, MissingFieldsAndWrongTypes) {
  EXPECT_FALSE(
      OpenStatus(WriteRaw("m1.safetensors", R"({"a":{"shape":[1],"data_offsets":[0,1]}})", 1))
          .ok());
  EXPECT_FALSE(
      OpenStatus(WriteRaw("m2.safetensors", R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", 1))
          .ok());
  EXPECT_FALSE(
      OpenStatus(WriteRaw("m3.safetensors", R"({"a":{"dtype":"U8","shape":[1]}})", 1)).ok());
  EXPECT_FALSE(OpenStatus(WriteRaw("m4.safetensors",
                                   R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1))
                   .ok());
  EXPECT_FALSE(OpenStatus(WriteRaw("m5.safetensors", R"([1,2,3])", 0)).ok());
  EXPECT_FALSE(OpenStatus(WriteRaw("m6.safetensors", R"({"a":7})", 0)).ok());
  EXPECT_FALSE(OpenStatus(WriteRaw("m7.safetensors", R"({"__metadata__":{"k":1}})", 0)).ok());
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  EXPECT_EQ(OpenStatus(dir_ + "/nope.safetensors").code(), absl::StatusCode::kNotFound);
}

TEST_F(SafetensorsTest, WriterRoundTripsEveryDtype) {
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({3, 5})},
      {"f16", at::randn({4}).to(at::kHalf)},
      {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
      {"i64", at::arange(7, at::kLong)},
      {"i32", at::arange(3, at::kInt)},
      {"i8", at::arange(-3, 3, at::kChar)},
      {"u8", at::arange(5, at::kByte)},
      {"bool", at::ones({2}, at::kBool)},
      {"scalar", at::scalar_tensor(3.5)},
      {"empty", at::empty({0, 4})},
      {"strided", at::randn({4, 6}).t()},  // non-contiguous input
  };
  std::string path = dir_ + "/rt.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  for (const auto& [name, t] : tensors) {
    auto loaded = (*f)->Load(name);
    ASSERT_TRUE(loaded.ok()) << name;
    EXPECT_EQ(loaded->scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(*loaded, t.contiguous())) << name;
  }
  // No temporary file is left behind.
  int n_files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_)) n_files += e.is_regular_file();
  EXPECT_EQ(n_files, 1);
}

TEST_F(SafetensorsTest, LoadConvertsToComputeDtype) {
  at::Tensor w = at::randn({8}).to(at::kBFloat16);
  std::string path = dir_ + "/bf16.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"w", w}}).ok());
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok());
  auto loaded = (*f)->Load("w", at::kFloat);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(*loaded, w.to(at::kFloat)));
}

TEST_F(SafetensorsTest, WriterRejectsDuplicatesAndUnsupportedDtypes) {
  std::string path = dir_ + "/bad.safetensors";
  EXPECT_FALSE(WriteSafetensors(path, {{"a", at::ones({1})}, {"a", at::ones({1})}}).ok());
  EXPECT_FALSE(WriteSafetensors(path, {{"d", at::ones({1}, at::kDouble)}}).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(SafetensorsTest, WriterReplacesExistingFileAtomically) {
  std::string path = dir_ + "/replace.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"v", at::zeros({2})}}).ok());
  ASSERT_TRUE(WriteSafetensors(path, {{"v", at::ones({3})}}).ok());
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Load("v")->numel(), 3);
}

TEST_F(SafetensorsTest, WriterFailsCleanlyOnMissingDirectory) {
  absl::Status s = WriteSafetensors(dir_ + "/no/such/dir/x.safetensors", {{"v", at::zeros({2})}});
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace lmeye
