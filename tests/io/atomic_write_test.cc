// WriteFileAtomically: a file is written whole or not at all, a failure leaves the old file and
// no temporary behind, and the temporaries a killed writer leaves are recognised.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/common/file_util.h"
#include "tests/common/scratch_dir.h"

namespace lmeye {
namespace {

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(AtomicWriteTest, WritesAndReplacesWholeFiles) {
  testing::ScratchDir dir("atomic_write");
  const std::string path = dir.Path("a.json");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  EXPECT_EQ(*ReadFileToString(path), "first");
  ASSERT_TRUE(WriteFileAtomically(path, std::string("se\0cond", 7)).ok());
  EXPECT_EQ(*ReadFileToString(path), std::string("se\0cond", 7));
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"a.json"});
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0644));
}

TEST(AtomicWriteTest, StreamsThroughTheSink) {
  testing::ScratchDir dir("atomic_write");
  const std::string path = dir.Path("big.bin");
  const std::string chunk(1 << 16, 'x');
  ASSERT_TRUE(WriteFileAtomically(path, [&](const ByteSink& sink) {
                for (int i = 0; i < 32; ++i) {
                  if (!sink(chunk.data(), chunk.size())) return absl::InternalError("sink");
                }
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 32u << 16);
}

TEST(AtomicWriteTest, AFailedWriterLeavesTheOldFileAndNoTemporary) {
  testing::ScratchDir dir("atomic_write");
  const std::string path = dir.Write("model.safetensors", "old");
  const absl::Status status = WriteFileAtomically(path, [](const ByteSink& sink) {
    sink("half", 4);
    return absl::DataLossError("tensor 7 is not contiguous");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find(path), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("tensor 7"), absl::string_view::npos) << status;
  EXPECT_EQ(*ReadFileToString(path), "old");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"model.safetensors"});
}

TEST(AtomicWriteTest, AMissingFolderIsAnErrorNamingThePath) {
  testing::ScratchDir dir("atomic_write");
  const std::string path = dir.Path("no/such/folder/x.json");
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(path), absl::string_view::npos) << status;
}

TEST(AtomicWriteTest, RecognisesTheTemporariesOfAKilledWriter) {
  EXPECT_TRUE(IsAtomicWriteTemporary("checkpoint.safetensors.tmp.a1B2c3"));
  EXPECT_TRUE(IsAtomicWriteTemporary("vocab.json.tmp.XXXXXX"));
  EXPECT_FALSE(IsAtomicWriteTemporary("checkpoint.safetensors"));
  EXPECT_FALSE(IsAtomicWriteTemporary("notes.tmp.txt"));
  EXPECT_FALSE(IsAtomicWriteTemporary("a.tmp.abcdefg"));
  EXPECT_FALSE(IsAtomicWriteTemporary(".tmp.abcdef"));
  EXPECT_FALSE(IsAtomicWriteTemporary("a.tmp.ab-def"));
}

}  // namespace
}  // namespace lmeye
