// The image-text matching builder: True/False and four-choice questions from captions, readable
// back as a conversation manifest.
#include "model/train/matching_data.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/train/train_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::PhotoCaptions;
using ::lmeye::testing::TrainEnv;

TEST(MatchingDataTest, TrueFalseAndFourChoiceFromOtherImagesCaptions) {
  auto captions = ReadManifest(TrainEnv::Get().captions());
  ASSERT_TRUE(captions.ok());
  auto records = BuildMatchingRecords(*captions, {});
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 12u);
  int n_true = 0;
  for (size_t i = 0; i < records->size(); ++i) {
    const ManifestRecord& r = (*records)[i];
    const ManifestRecord& source = captions->records[i / 2];
    EXPECT_EQ(r.image, source.image);
    ASSERT_EQ(r.conversation.size(), 2u);
    const std::string& q = r.conversation[0].text;
    const std::string& a = r.conversation[1].text;
    if (i % 2 == 0) {
      ASSERT_TRUE(a == "True" || a == "False") << a;
      n_true += a == "True";
      // True exactly when the quoted caption is the image's own.
      EXPECT_EQ(absl::StrContains(q, "\"" + source.caption + "\""), a == "True") << q;
    } else {
      ASSERT_EQ(a.size(), 1u);
      const int letter = a[0] - 'A';
      ASSERT_TRUE(letter >= 0 && letter < 4) << a;
      EXPECT_TRUE(absl::StrContains(q, std::string("\n") + a + ". " + source.caption + "\n")) << q;
      int n_options = 0;
      for (const auto& [image, caption] : PhotoCaptions())
        n_options += absl::StrContains(q, caption);
      EXPECT_EQ(n_options, 4) << q;
    }
  }
  EXPECT_GT(n_true, 0);
  EXPECT_LT(n_true, 6);
  // Deterministic in the seed.
  auto again = BuildMatchingRecords(*captions, {});
  EXPECT_EQ((*again)[1].conversation[0].text, (*records)[1].conversation[0].text);

  // Written and read back as a manifest, image paths relative to it.
  const std::string path = TrainEnv::Get().root() + "/matching.jsonl";
  ASSERT_TRUE(WriteManifest(path, *records).ok());
  auto back = ReadManifest(path);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->issues.empty());
  ASSERT_EQ(back->records.size(), 12u);
  EXPECT_TRUE(std::filesystem::equivalent(back->records[3].image, (*records)[3].image));
  EXPECT_EQ(back->records[3].conversation[0].text, (*records)[3].conversation[0].text);
}

// A caption record's negatives and labels (the clip stage's) are written too: what
// WriteManifest writes reads back as the same records.
TEST(MatchingDataTest, WrittenCaptionRecordsReadBackWhole) {
  ManifestRecord r;
  r.image = TrainEnv::Get().root() + "/a.jpg";
  r.caption = "A red circle.";
  r.negatives = {"A blue circle."};
  r.labels = {"a red circle", "a circle"};
  const std::string path = TrainEnv::Get().root() + "/captions_written.jsonl";
  ASSERT_TRUE(WriteManifest(path, {r}).ok());
  auto back = ReadManifest(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0].caption, r.caption);
  EXPECT_EQ(back->records[0].negatives, r.negatives);
  EXPECT_EQ(back->records[0].labels, r.labels);
}

TEST(MatchingDataTest, TooFewCaptionsIsAnError) {
  Manifest m;
  m.path = "few.jsonl";
  m.records.resize(3);
  for (int i = 0; i < 3; ++i) {
    m.records[i].image = "i" + std::to_string(i);
    m.records[i].caption = "c" + std::to_string(i);
  }
  EXPECT_EQ(BuildMatchingRecords(m, {}).status().message(),
            "few.jsonl: 3 distinct captions; matching data needs 4");
  MatchingOptions tf;
  tf.four_choice = false;
  EXPECT_EQ(BuildMatchingRecords(m, tf)->size(), 3u);
}

}  // namespace
}  // namespace lmeye
