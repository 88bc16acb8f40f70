// The dataset directory: same seed same bytes, another seed other data, --n as a prefix, and
// every file's lines with the documented keys, image paths that exist, counts as meta.json says.
#include "model/synth/shapes_dataset.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "model/synth/shapes_world.h"

namespace lmeye::synth {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<nlohmann::json> ReadJsonl(const fs::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Every regular file under `dir`, by relative path.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).string()] = Read(entry.path());
    }
  }
  return files;
}

fs::path Write(const std::string& name, int n, uint64_t seed) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("synth_dataset_test_" + name);
  fs::remove_all(dir);
  ShapesDatasetOptions options;
  options.out_dir = dir.string();
  options.n_images = n;
  options.seed = seed;
  absl::StatusOr<ShapesDatasetSummary> summary = WriteShapesDataset(options);
  EXPECT_TRUE(summary.ok()) << summary.status();
  return dir;
}

TEST(ShapesDatasetTest, SameSeedSameBytesOtherSeedOtherData) {
  const std::map<std::string, std::string> a = Snapshot(Write("a", 12, 5));
  const std::map<std::string, std::string> b = Snapshot(Write("b", 12, 5));
  const std::map<std::string, std::string> c = Snapshot(Write("c", 12, 6));
  EXPECT_EQ(a.size(), 12u + 6u);  // images + 5 JSONL files + meta.json
  EXPECT_TRUE(a == b);
  for (const char* file : {"captions.jsonl", "qa.jsonl", "scenes.jsonl", "images/000000.png"}) {
    EXPECT_NE(a.at(file), c.at(file)) << file;
  }
}

TEST(ShapesDatasetTest, FewerImagesArePrefixes) {
  const std::string small = Read(Write("prefix5", 5, 9) / "captions.jsonl");
  const std::string large = Read(Write("prefix10", 10, 9) / "captions.jsonl");
  EXPECT_EQ(large.substr(0, small.size()), small);
}

TEST(ShapesDatasetTest, FilesHaveTheDocumentedShape) {
  const fs::path dir = Write("shape", 20, 1);
  const nlohmann::json meta = nlohmann::json::parse(Read(dir / "meta.json"));
  EXPECT_EQ(meta["n_images"], 20);
  EXPECT_EQ(meta["seed"], 1);
  EXPECT_EQ(meta["vocabulary"]["shapes"].size(), static_cast<size_t>(kNumShapes));
  EXPECT_EQ(meta["vocabulary"]["colors"].size(), static_cast<size_t>(kNumColors));

  const std::vector<nlohmann::json> captions = ReadJsonl(dir / "captions.jsonl");
  ASSERT_EQ(captions.size(), 20u);
  for (const nlohmann::json& line : captions) {
    EXPECT_TRUE(line["caption"].is_string());
    const cv::Mat image = cv::imread((dir / line["image"].get<std::string>()).string());
    ASSERT_FALSE(image.empty()) << line["image"];
    EXPECT_EQ(image.rows, 128);
  }
  const std::vector<nlohmann::json> instruct = ReadJsonl(dir / "instruct.jsonl");
  EXPECT_EQ(static_cast<int>(instruct.size()), meta["n_instruct"].get<int>());
  int n_describe = 0;
  for (const nlohmann::json& line : instruct) {
    ASSERT_EQ(line["conversations"].size(), 2u);
    EXPECT_EQ(line["conversations"][0]["from"], "human");
    EXPECT_EQ(line["conversations"][1]["from"], "gpt");
    EXPECT_TRUE(fs::exists(dir / line["image"].get<std::string>()));
    n_describe += line["conversations"][0]["value"] == kDescribePrompt;
  }
  EXPECT_EQ(n_describe, 20);

  const std::vector<nlohmann::json> text = ReadJsonl(dir / "text.jsonl");
  EXPECT_EQ(static_cast<int>(text.size()), meta["n_text"].get<int>());
  for (const nlohmann::json& line : text) EXPECT_TRUE(line["text"].is_string());

  const std::vector<nlohmann::json> qa = ReadJsonl(dir / "qa.jsonl");
  EXPECT_EQ(static_cast<int>(qa.size()), meta["n_qa"].get<int>());
  std::set<std::string> kinds, ids;
  for (const nlohmann::json& line : qa) {
    kinds.insert(line["kind"].get<std::string>());
    ids.insert(line["question_id"].get<std::string>());
    EXPECT_TRUE(line["question"].is_string());
    EXPECT_TRUE(line["answer"].is_string());
    if (line["kind"] == "choice") {
      ASSERT_EQ(line["choices"].size(), 4u);
      EXPECT_EQ(line["choices"][line["answer_index"].get<int>()], line["answer"]);
    }
  }
  EXPECT_EQ(ids.size(), qa.size()) << "question ids are unique";
  EXPECT_EQ(kinds, (std::set<std::string>{"color", "shape", "size", "count", "exist", "spatial",
                                          "match", "choice"}));

  const std::vector<nlohmann::json> scenes = ReadJsonl(dir / "scenes.jsonl");
  ASSERT_EQ(scenes.size(), 20u);
  for (size_t i = 0; i < scenes.size(); ++i) {
    EXPECT_EQ(scenes[i]["image"], captions[i]["image"]);
    EXPECT_EQ(scenes[i]["objects"].size(), SampleScene(1, static_cast<int>(i)).objects.size());
  }
}

TEST(ShapesDatasetTest, BadOptionsAreInvalidArgument) {
  ShapesDatasetOptions options;
  options.out_dir = (fs::path(::testing::TempDir()) / "synth_dataset_test_bad").string();
  options.n_images = 0;
  EXPECT_EQ(WriteShapesDataset(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.n_images = 1;
  options.image_size = 32;
  EXPECT_EQ(WriteShapesDataset(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.image_size = 128;
  options.out_dir = "";
  EXPECT_EQ(WriteShapesDataset(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lmeye::synth
