// `lmeye data shapes` as a process: it writes a dataset whose manifests `lmeye train` reads
// without a skipped line (captions; instruct: VQA lines and description caption lines), the same
// bytes twice, and answers bad flags with exit code 2; --clip-only writes the clip pairs alone;
// `lmeye data tokenizer` on its text.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "model/train/manifest.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

std::string Shell(const std::string& word) { return "'" + word + "'"; }

// Runs `lmeye data ARGS`, stderr to `log`; returns the exit code.
int RunData(const std::string& args, const std::string& log) {
  const std::string command = Shell(LMEYE_BINARY) + " data " + args + " >/dev/null 2>" + Shell(log);
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path Dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("synth_data_main_test_" + name);
  fs::remove_all(dir);
  return dir;
}

TEST(DataMainTest, ShapesWritesManifestsThatTrainingReads) {
  const fs::path dir = Dir("ok");
  const std::string log = (dir.string() + ".log");
  ASSERT_EQ(RunData("shapes --out " + Shell(dir.string()) + " --n 24 --seed 3 --size 96", log), 0)
      << Read(log);
  absl::StatusOr<Manifest> captions = ReadManifest((dir / "captions.jsonl").string());
  ASSERT_TRUE(captions.ok()) << captions.status();
  EXPECT_TRUE(captions->issues.empty());
  ASSERT_EQ(captions->records.size(), 24u);
  EXPECT_TRUE(captions->records[0].is_caption());
  EXPECT_TRUE(fs::exists(captions->records[0].image)) << "paths resolve against the manifest";

  absl::StatusOr<Manifest> instruct = ReadManifest((dir / "instruct.jsonl").string());
  ASSERT_TRUE(instruct.ok()) << instruct.status();
  EXPECT_TRUE(instruct->issues.empty()) << instruct->IssueText(instruct->issues[0]);
  int n_vqa = 0, n_caption = 0, n_chat = 0;
  for (const ManifestRecord& r : instruct->records) {
    EXPECT_TRUE(fs::exists(r.image)) << r.image;
    n_vqa += r.is_vqa();
    n_caption += r.is_caption();
    n_chat += !r.conversation.empty();
  }
  EXPECT_EQ(n_caption, 24) << "one description per image";
  EXPECT_EQ(n_chat, 24) << "one chat-template question per image";
  EXPECT_GE(n_vqa, 24 * 7) << "count x3, exist x2, match and choice per image at least";
  EXPECT_FALSE(fs::exists(dir / "matching.jsonl"));

  // Same flags, same bytes.
  const fs::path again = Dir("again");
  ASSERT_EQ(RunData("shapes --out=" + Shell(again.string()) + " --n=24 --seed=3 --size=96", log),
            0);
  for (const char* file :
       {"captions.jsonl", "instruct.jsonl", "text.jsonl", "eval_vqa.jsonl", "eval_choice.jsonl",
        "eval_describe.jsonl", "meta.json", "images/000023.png"}) {
    EXPECT_EQ(Read(dir / file), Read(again / file)) << file;
  }
}

// --clip-only: the clip stage's pairs, readable as caption records with negatives, and none of
// the other manifests.
TEST(DataMainTest, ShapesClipOnlyWritesTheClipPairsAlone) {
  const fs::path dir = Dir("clip_only");
  const std::string log = (dir.string() + ".log");
  ASSERT_EQ(RunData("shapes --out " + Shell(dir.string()) + " --n 8 --seed 3 --clip-only", log), 0)
      << Read(log);
  absl::StatusOr<Manifest> clip = ReadManifest((dir / "clip.jsonl").string());
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_TRUE(clip->issues.empty());
  ASSERT_EQ(clip->records.size(), 8u);
  EXPECT_TRUE(clip->records[0].is_caption());
  EXPECT_FALSE(clip->records[0].negatives.empty());
  EXPECT_TRUE(fs::exists(clip->records[7].image));
  for (const char* file : {"captions.jsonl", "instruct.jsonl", "text.jsonl", "eval_vqa.jsonl"}) {
    EXPECT_FALSE(fs::exists(dir / file)) << file;
  }
}

// `lmeye data tokenizer` on the dataset's text: the same tokenizer.json from --flag value and
// --flag=value, and usage errors exit 2.
TEST(DataMainTest, TokenizerFromTheDatasetText) {
  const fs::path data = Dir("tok_data");
  const std::string log = data.string() + ".log";
  ASSERT_EQ(RunData("shapes --out " + Shell(data.string()) + " --n 12 --seed 5 --size 64", log), 0)
      << Read(log);
  const std::string corpus = Shell((data / "text.jsonl").string());
  const fs::path a = Dir("tok_a"), b = Dir("tok_b");
  ASSERT_EQ(
      RunData("tokenizer --corpus " + corpus + " --vocab-size 300 --out " + Shell(a.string()), log),
      0)
      << Read(log);
  ASSERT_EQ(
      RunData("tokenizer --corpus=" + corpus + " --vocab-size=300 --out=" + Shell(b.string()), log),
      0)
      << Read(log);
  const std::string tokenizer = Read(a / "tokenizer.json");
  EXPECT_NE(tokenizer.find("\"merges\""), std::string::npos);
  EXPECT_EQ(tokenizer, Read(b / "tokenizer.json"));
  EXPECT_EQ(RunData("tokenizer --out " + Shell(Dir("tok_c").string()), log), 2) << "no corpus";
  EXPECT_EQ(RunData("tokenizer --corpus " + corpus + " --vocab-size=many --out " +
                        Shell(Dir("tok_d").string()),
                    log),
            2);
}

// Each run loads libtorch (about half a second): a few representative cases; the flag parser's
// other branches are the same code.
TEST(DataMainTest, BadFlagsExitTwo) {
  const fs::path dir = Dir("bad");
  const std::string log = dir.string() + ".log";
  const std::string out = " --out " + Shell(dir.string());
  EXPECT_EQ(RunData("", log), 2);
  EXPECT_EQ(RunData("nonsense", log), 2);
  EXPECT_EQ(RunData("shapes --n 3", log), 2);
  EXPECT_EQ(RunData("shapes" + out + " --n three", log), 2);
  EXPECT_EQ(RunData("shapes" + out + " --n 3 --size 20", log), 2);
  EXPECT_EQ(RunData("shapes" + out + " --n 3 --colour red", log), 2);
  EXPECT_EQ(RunData("shapes" + out + " --n", log), 2);
  EXPECT_NE(Read(log).find("needs a value"), std::string::npos) << Read(log);
  EXPECT_FALSE(fs::exists(dir)) << "nothing written on a usage error";
  EXPECT_EQ(RunData("shapes --help", log), 0);
}

}  // namespace
}  // namespace lmeye
