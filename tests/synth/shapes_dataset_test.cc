// The dataset directory: same seed same bytes, another seed other data, --n as a prefix, every
// file's lines with the documented keys, image paths that exist, counts as meta.json says; the
// instruct and text manifests carry every evaluation question in AnswerVQA's form, and the
// evaluation files read with model/eval's reader and score 100 against their own answers.
#include "model/synth/shapes_dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_format.h"
#include "model/eval/datasets.h"
#include "model/eval/scoring.h"
#include "model/synth/shapes_text.h"
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

fs::path Write(const std::string& name, int n, uint64_t seed, bool clip_only = false) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("synth_dataset_test_" + name);
  fs::remove_all(dir);
  ShapesDatasetOptions options;
  options.out_dir = dir.string();
  options.n_images = n;
  options.seed = seed;
  options.clip_only = clip_only;
  absl::StatusOr<ShapesDatasetSummary> summary = WriteShapesDataset(options);
  EXPECT_TRUE(summary.ok()) << summary.status();
  return dir;
}

TEST(ShapesDatasetTest, SameSeedSameBytesOtherSeedOtherData) {
  const std::map<std::string, std::string> a = Snapshot(Write("a", 12, 5));
  const std::map<std::string, std::string> b = Snapshot(Write("b", 12, 5));
  const std::map<std::string, std::string> c = Snapshot(Write("c", 12, 6));
  EXPECT_EQ(a.size(), 12u + 10u);  // images + 9 JSONL files + meta.json
  EXPECT_TRUE(a == b);
  for (const char* file : {"captions.jsonl", "instruct.jsonl", "eval_vqa.jsonl",
                           "eval_describe.jsonl", "scenes.jsonl", "images/000000.png"}) {
    EXPECT_NE(a.at(file), c.at(file)) << file;
  }
}

// clip_only: the clip stage's files alone, each the same bytes as in the whole dataset.
TEST(ShapesDatasetTest, ClipOnlyWritesTheClipFilesOfTheWholeDataset) {
  const std::map<std::string, std::string> all = Snapshot(Write("all", 12, 5));
  const std::map<std::string, std::string> clip = Snapshot(Write("clip_only", 12, 5, true));
  EXPECT_EQ(clip.size(), 12u + 3u);  // images + clip.jsonl, scenes.jsonl, meta.json
  for (const auto& [file, bytes] : clip) {
    if (file == "meta.json") continue;  // its counts are of the files written
    EXPECT_EQ(bytes, all.at(file)) << file;
  }
  EXPECT_EQ(nlohmann::json::parse(clip.at("meta.json"))["n_images"], 12);
}

// clip.jsonl: per image the attribute-ordered caption with binding hard negatives (same words,
// wrong pairing, for scenes of several objects) and changed-word negatives.
TEST(ShapesDatasetTest, ClipPairsCarryBindingNegatives) {
  const fs::path dir = Write("clip", 20, 1);
  auto words = [](const std::string& text) {
    std::multiset<std::string> out;
    std::string w;
    for (char c : text + " ") {
      if (c == ' ' || c == ',' || c == '.') {
        if (!w.empty()) out.insert(w);
        w.clear();
      } else {
        w += c;
      }
    }
    return out;
  };
  int n_with_negatives = 0, n_swaps = 0;
  for (const nlohmann::json& line : ReadJsonl(dir / "clip.jsonl")) {
    ASSERT_TRUE(line["caption"].is_string());
    ASSERT_TRUE(line.contains("negatives"));
    ++n_with_negatives;
    const std::string caption = line["caption"].get<std::string>();
    const int index = std::stoi(line["image"].get<std::string>().substr(7, 6));
    const Scene scene = SampleScene(1, index);
    EXPECT_EQ(caption, ClipCaption(scene));
    EXPECT_EQ(words(caption), words(Caption(scene)));  // the same phrases, reordered
    ASSERT_FALSE(line["negatives"].empty()) << caption;
    for (const nlohmann::json& n : line["negatives"]) {
      EXPECT_NE(n.get<std::string>(), caption);
      n_swaps += words(n.get<std::string>()) == words(caption);  // a swap keeps the words
    }
  }
  EXPECT_EQ(n_with_negatives, 20);
  EXPECT_GT(n_swaps, 10);
}

// clip.jsonl's labels: each object of the scene as "a SIZE COLOUR SHAPE", once, in the scene's
// order (two objects alike give one label).
TEST(ShapesDatasetTest, ClipPairsCarryOneLabelPerDistinctObject) {
  const fs::path dir = Write("clip_labels", 20, 1);
  int n_lines = 0;
  for (const nlohmann::json& line : ReadJsonl(dir / "clip.jsonl")) {
    ++n_lines;
    const int index = std::stoi(line["image"].get<std::string>().substr(7, 6));
    const Scene scene = SampleScene(1, index);
    std::vector<std::string> expected;
    for (const ShapeObject& o : scene.objects) {
      const std::string label = std::string("a ") + SizeName(o.size) + " " + ColorName(o.color) +
                                " " + ShapeName(o.shape);
      if (std::find(expected.begin(), expected.end(), label) == expected.end()) {
        expected.push_back(label);
      }
    }
    ASSERT_TRUE(line.contains("labels"));
    EXPECT_EQ(line["labels"].get<std::vector<std::string>>(), expected);
    EXPECT_NE(line["caption"].get<std::string>().find(expected[0].substr(2)), std::string::npos);
  }
  EXPECT_EQ(n_lines, 20);
}

TEST(ShapesDatasetTest, FewerImagesArePrefixes) {
  const std::string small = Read(Write("prefix5", 5, 9) / "captions.jsonl");
  const std::string large = Read(Write("prefix10", 10, 9) / "captions.jsonl");
  EXPECT_EQ(large.substr(0, small.size()), small);
}

TEST(ShapesDatasetTest, TrainingManifestsHaveTheDocumentedShape) {
  const fs::path dir = Write("shape", 20, 1);
  const nlohmann::json meta = nlohmann::json::parse(Read(dir / "meta.json"));
  EXPECT_EQ(meta["n_images"], 20);
  EXPECT_EQ(meta["seed"], 1);
  EXPECT_EQ(meta["vocabulary"]["shapes"].size(), static_cast<size_t>(kNumShapes));
  EXPECT_EQ(meta["vocabulary"]["colors"].size(), static_cast<size_t>(kNumColors));

  const std::vector<nlohmann::json> captions = ReadJsonl(dir / "captions.jsonl");
  ASSERT_EQ(captions.size(), 20u);
  for (const nlohmann::json& line : captions) {
    EXPECT_EQ(line.size(), 2u);
    EXPECT_TRUE(line["caption"].is_string());
    const cv::Mat image = cv::imread((dir / line["image"].get<std::string>()).string());
    ASSERT_FALSE(image.empty()) << line["image"];
    EXPECT_EQ(image.rows, 128);
  }

  // Every line is a VQA line, a caption line (the description) or one of the image's questions
  // again as a one-turn chat.
  std::set<std::string> texts;
  for (const nlohmann::json& line : ReadJsonl(dir / "text.jsonl")) {
    ASSERT_TRUE(line["text"].is_string());
    texts.insert(line["text"].get<std::string>());
  }
  EXPECT_EQ(static_cast<int>(ReadJsonl(dir / "text.jsonl").size()), meta["n_text"].get<int>());
  // The sentence answers (not in text.jsonl), checked per question below.
  std::set<std::string> restated;
  for (const nlohmann::json& line : ReadJsonl(dir / "text_restate.jsonl")) {
    const std::string text = line["text"].get<std::string>();
    EXPECT_EQ(texts.count(text), 0u) << text;
    restated.insert(text);
  }
  EXPECT_EQ(static_cast<int>(ReadJsonl(dir / "text_restate.jsonl").size()),
            meta["n_text_restate"].get<int>());
  int n_restated_colors = 0;
  const std::vector<nlohmann::json> instruct = ReadJsonl(dir / "instruct.jsonl");
  EXPECT_EQ(static_cast<int>(instruct.size()), meta["n_instruct"].get<int>());
  std::map<std::string, int> descriptions;  // image -> caption lines
  std::map<std::string, int> chats;         // image -> conversation lines
  std::set<std::string> vqa_pairs;          // image + question + answer
  std::vector<nlohmann::json> conversations;
  for (const nlohmann::json& line : instruct) {
    const std::string image = line["image"].get<std::string>();
    if (line.contains("conversations")) {
      conversations.push_back(line);
      ++chats[image];
      continue;
    }
    EXPECT_TRUE(fs::exists(dir / image)) << image;
    if (line.contains("caption")) {
      EXPECT_EQ(line.size(), 2u);
      const int index = std::stoi(image.substr(std::string("images/").size(), 6));
      EXPECT_EQ(line["caption"], Description(SampleScene(1, index)));
      EXPECT_EQ(texts.count(line["caption"].get<std::string>()), 1u) << "LM text has it";
      ++descriptions[image];
      continue;
    }
    ASSERT_EQ(line.size(), 3u) << line.dump();
    const std::string q = line["question"].get<std::string>();
    const std::string a = line["answer"].get<std::string>();
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(texts.count("Question: " + q + "\nAnswer: " + a), 1u) << q;
    vqa_pairs.insert(image + "|" + q + "|" + a);
    // "What color is the triangle?" is also answered "The triangle is red.": the sentence
    // names what the question asked about, not another object.
    const std::string color_prefix = "What color is the ";
    if (q.rfind(color_prefix, 0) == 0) {
      const std::string shape = q.substr(color_prefix.size(), q.size() - color_prefix.size() - 1);
      const std::string sentence = "Question: " + q + "\nAnswer: The " + shape + " is " + a + ".";
      EXPECT_EQ(restated.count(sentence), 1u) << sentence;
      ++n_restated_colors;
    }
  }
  EXPECT_GT(n_restated_colors, 0);
  for (const nlohmann::json& line : conversations) {
    const nlohmann::json& turns = line["conversations"];
    ASSERT_EQ(turns.size(), 2u);
    EXPECT_EQ(turns[0]["from"], "human");
    EXPECT_EQ(turns[1]["from"], "gpt");
    const std::string q = turns[0]["value"].get<std::string>();
    const std::string a = turns[1]["value"].get<std::string>();
    EXPECT_EQ(vqa_pairs.count(line["image"].get<std::string>() + "|" + q + "|" + a), 1u)
        << "the chat repeats one of the image's questions: " << q;
    EXPECT_EQ(texts.count("Human: " + q + "\nAssistant: " + a), 1u) << q;
  }
  EXPECT_EQ(chats.size(), 20u);
  for (const auto& [image, n] : chats) EXPECT_EQ(n, 1) << image;
  EXPECT_EQ(descriptions.size(), 20u);
  for (const auto& [image, n] : descriptions) EXPECT_EQ(n, 1) << image;

  const std::vector<nlohmann::json> scenes = ReadJsonl(dir / "scenes.jsonl");
  ASSERT_EQ(scenes.size(), 20u);
  for (size_t i = 0; i < scenes.size(); ++i) {
    EXPECT_EQ(scenes[i]["image"], captions[i]["image"]);
    EXPECT_EQ(scenes[i]["objects"].size(), SampleScene(1, static_cast<int>(i)).objects.size());
  }
}

// (image, question) -> answer over instruct.jsonl's VQA lines.
std::map<std::pair<std::string, std::string>, std::string> TrainedAnswers(const fs::path& dir) {
  std::map<std::pair<std::string, std::string>, std::string> answers;
  for (const nlohmann::json& line : ReadJsonl(dir / "instruct.jsonl")) {
    if (line.contains("question")) answers[{line["image"], line["question"]}] = line["answer"];
  }
  return answers;
}

TEST(ShapesDatasetTest, EvaluationFilesReadAndScoreTheirOwnAnswersPerfectly) {
  const fs::path dir = Write("eval", 20, 1);
  const nlohmann::json meta = nlohmann::json::parse(Read(dir / "meta.json"));
  const auto trained = TrainedAnswers(dir);

  absl::StatusOr<eval::EvalDataset> vqa =
      eval::ReadJsonlDataset((dir / "eval_vqa.jsonl").string(), eval::EvalTask::kVqa);
  ASSERT_TRUE(vqa.ok()) << vqa.status();
  EXPECT_EQ(static_cast<int>(vqa->items.size()), meta["n_eval_vqa"].get<int>());
  const std::map<std::string, std::string> answer_types = {
      {"color", "other"},  {"shape", "other"},   {"size", "other"},  {"count", "number"},
      {"exist", "yes/no"}, {"spatial", "other"}, {"match", "yes/no"}};
  std::map<std::string, int> kinds;
  std::set<std::string> ids;
  std::vector<eval::Prediction> perfect;
  for (const eval::EvalItem& item : vqa->items) {
    ASSERT_EQ(item.answers.size(), static_cast<size_t>(kVqaAnswerCopies)) << item.id;
    for (const std::string& a : item.answers) EXPECT_EQ(a, item.answers[0]);
    ASSERT_TRUE(answer_types.count(item.question_type)) << item.question_type;
    EXPECT_EQ(item.answer_type, answer_types.at(item.question_type)) << item.id;
    EXPECT_EQ(trained.at({item.image, item.question}), item.answers[0]) << "trained as evaluated";
    EXPECT_TRUE(fs::exists(dir / item.image));
    ++kinds[item.question_type];
    ids.insert(item.id);
    perfect.push_back({item.id, false, item.answers[0]});
  }
  EXPECT_EQ(ids.size(), vqa->items.size()) << "question ids are unique";
  EXPECT_EQ(kinds.size(), answer_types.size()) << "every kind is asked in 20 scenes";
  for (const auto& [kind, n] : kinds) EXPECT_EQ(meta["eval_vqa_kinds"][kind], n) << kind;
  EXPECT_EQ(kinds["match"], 20);
  absl::StatusOr<eval::ScoreReport> vqa_report = eval::ScorePredictions(*vqa, perfect);
  ASSERT_TRUE(vqa_report.ok()) << vqa_report.status();
  EXPECT_EQ(vqa_report->metrics.at("accuracy"), 100.0);
  EXPECT_EQ(vqa_report->breakdowns.at("perQuestionType").size(), answer_types.size());
  for (const auto& [kind, accuracy] : vqa_report->breakdowns.at("perQuestionType")) {
    EXPECT_EQ(accuracy, 100.0) << kind;
  }

  absl::StatusOr<eval::EvalDataset> choice =
      eval::ReadJsonlDataset((dir / "eval_choice.jsonl").string(), eval::EvalTask::kChoice);
  ASSERT_TRUE(choice.ok()) << choice.status();
  ASSERT_EQ(choice->items.size(), 20u);
  std::vector<eval::Prediction> chosen;
  for (const eval::EvalItem& item : choice->items) {
    ASSERT_EQ(item.choices.size(), 4u);
    EXPECT_EQ(std::set<std::string>(item.choices.begin(), item.choices.end()).size(), 4u);
    const std::string& correct = item.choices[item.answer_index];
    const int index = std::stoi(item.image.substr(std::string("images/").size(), 6));
    EXPECT_EQ(correct, Caption(SampleScene(1, index)));
    EXPECT_EQ(trained.at({item.image, item.question}), correct) << "the TEXT is trained";
    EXPECT_EQ(ids.count(item.id), 0u) << "ids unique across the evaluation files";
    chosen.push_back({item.id, false, correct});
  }
  absl::StatusOr<eval::ScoreReport> choice_report = eval::ScorePredictions(*choice, chosen);
  ASSERT_TRUE(choice_report.ok()) << choice_report.status();
  EXPECT_EQ(choice_report->metrics.at("accuracy"), 100.0);

  absl::StatusOr<eval::EvalDataset> describe =
      eval::ReadJsonlDataset((dir / "eval_describe.jsonl").string(), eval::EvalTask::kDescribe);
  ASSERT_TRUE(describe.ok()) << describe.status();
  ASSERT_EQ(describe->items.size(), 20u);
  for (size_t i = 0; i < describe->items.size(); ++i) {
    const eval::EvalItem& item = describe->items[i];
    EXPECT_EQ(item.id, absl::StrFormat("%06d", i));
    EXPECT_EQ(item.image, absl::StrFormat("images/%06d.png", i));
    ASSERT_EQ(item.references.size(), 1u);
    EXPECT_EQ(item.references[0], Description(SampleScene(1, static_cast<int>(i))));
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
