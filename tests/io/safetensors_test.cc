#include "model/io/safetensors.h"

#include <gtest/gtest.h>

#include "tests/common/test_data.h"

namespace lmeye {
namespace {

TEST(SafetensorsTest, ReadsFixtureCheckpoint) {
  auto file = SafetensorsFile::Open(testing::TestData("models/opt-tiny/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->entries().size(), 36u);
  auto t = (*file)->Load("model.decoder.embed_tokens.weight");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->sizes().vec(), (std::vector<int64_t>{1000, 64}));
}

}  // namespace
}  // namespace lmeye
