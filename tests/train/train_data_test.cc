// Manifests, examples, batches, the lr schedule and the config: everything of `lmeye train`
// that is not the optimisation itself.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "model/tokenizer/tokenizer_factory.h"
#include "model/train/lr_schedule.h"
#include "model/train/manifest.h"
#include "model/train/train_config.h"
#include "model/train/train_data.h"
#include "model/train/train_objective.h"
#include "model/train/trainer.h"
#include "tests/train/train_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::ImagePath;
using ::lmeye::testing::Ipn;
using ::lmeye::testing::TrainEnv;
using ::lmeye::testing::WriteFile;

TEST(ManifestTest, ReadsCaptionsAndConversationsAndReportsBadLinesWithTheirNumber) {
  const std::string path = TrainEnv::Get().root() + "/mixed.jsonl";
  WriteFile(path,
            "{\"image\": \"a.jpg\", \"caption\": \"A cat.\"}\n"
            "\n"
            "not json\n"
            "{\"image\": \"b.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": "
            "\"<image>\\nWhat?\"}, {\"from\": \"gpt\", \"value\": \"A dog.\"}, {\"from\": "
            "\"human\", \"value\": \"More?\"}]}\n"
            "{\"image\": \"c.jpg\"}\n"
            "{\"image\": \"d.jpg\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}]}\n"
            "{\"image\": \"/abs/e.jpg\", \"caption\": \"   \"}\n");
  auto m = ReadManifest(path);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->n_lines, 6);
  ASSERT_EQ(m->records.size(), 2u);
  EXPECT_EQ(m->records[0].line, 1);
  EXPECT_EQ(m->records[0].image, TrainEnv::Get().root() + "/a.jpg");
  EXPECT_EQ(m->records[0].caption, "A cat.");
  EXPECT_EQ(m->records[1].line, 4);
  // The marker is gone and the unanswered last question dropped.
  ASSERT_EQ(m->records[1].conversation.size(), 2u);
  EXPECT_EQ(m->records[1].conversation[0].text, "What?");
  EXPECT_EQ(m->records[1].conversation[1].text, "A dog.");
  ASSERT_EQ(m->issues.size(), 4u);
  EXPECT_EQ(m->IssueText(m->issues[0]), path + ":3: not valid JSON");
  EXPECT_EQ(m->issues[1].line, 5);
  EXPECT_NE(m->issues[1].message.find("caption"), std::string::npos);
  EXPECT_EQ(m->issues[2].line, 6);
  EXPECT_NE(m->issues[2].message.find("expected a human turn"), std::string::npos);
  EXPECT_EQ(m->issues[3].line, 7);
  EXPECT_FALSE(ReadManifest(path + ".missing").ok());
}

// The clip stage's optional arrays: "negatives" and "labels", stripped; anything else in their
// place is an issue that names the field.
TEST(ManifestTest, CaptionsCarryNegativesAndLabels) {
  const std::string path = TrainEnv::Get().root() + "/labels.jsonl";
  WriteFile(path, R"({"image": "a.jpg", "caption": "A red cat.", "negatives": ["A blue cat."],)"
                  R"( "labels": [" a cat ", "red"]})"
                  "\n"
                  R"({"image": "b.jpg", "caption": "A dog.", "labels": "a dog"})"
                  "\n"
                  R"({"image": "c.jpg", "caption": "A dog.", "labels": ["a dog", ""]})"
                  "\n"
                  R"({"image": "d.jpg", "caption": "A dog.", "labels": [3]})"
                  "\n");
  auto m = ReadManifest(path);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->records.size(), 1u);
  EXPECT_EQ(m->records[0].negatives, std::vector<std::string>{"A blue cat."});
  EXPECT_EQ(m->records[0].labels, (std::vector<std::string>{"a cat", "red"}));
  ASSERT_EQ(m->issues.size(), 3u);
  EXPECT_NE(m->issues[0].message.find("\"labels\" must be an array"), std::string::npos)
      << m->issues[0].message;
  for (int i : {1, 2}) {
    EXPECT_NE(m->issues[i].message.find("\"labels\" must hold non-empty strings"),
              std::string::npos)
        << m->issues[i].message;
  }
}

// Removing "<image>" can join its neighbours into another one ("<im<image>age>"): none is left,
// or a conversation written back (matching_data.h) would read back different.
TEST(ManifestTest, NoImageMarkerIsLeftInConversationText) {
  auto record = ParseManifestLine(
      R"({"image": "a.jpg", "conversations": [{"from": "human", "value": "<im<image>age> What?"},)"
      R"( {"from": "gpt", "value": "<image>A cat.<image>"}]})",
      "");
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->conversation.size(), 2u);
  EXPECT_EQ(record->conversation[0].text, "What?");
  EXPECT_EQ(record->conversation[1].text, "A cat.");
  EXPECT_FALSE(ParseManifestLine(R"({"image": "a.jpg", "conversations": [{"from": "human",)"
                                 R"( "value": "<im<image>age>"}, {"from": "gpt", "value": "x"}]})",
                                 "")
                   .ok());
}

TEST(TrainDataTest, ExamplesAndBatchLayout) {
  auto tokenizer = LoadTokenizer(TrainEnv::Get().model() + "/llm");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto builder = PromptBuilder::Create(tokenizer->get());
  ASSERT_TRUE(builder.ok());
  auto manifest = ReadManifest(TrainEnv::Get().conversations());
  ASSERT_TRUE(manifest.ok());
  std::vector<ManifestIssue> issues;
  auto set = BuildExamples(*manifest, TrainStage::kInstruct, *builder, **tokenizer, 512, &issues);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(issues.empty());
  // The first conversation has two answers: two examples, the second with the first turn as text.
  ASSERT_EQ(set->examples.size(), 6u);
  EXPECT_EQ(set->images.size(), 5u);
  const TrainExample& second = set->examples[1];
  EXPECT_EQ((*tokenizer)->Decode(second.text).value(),
            "Human: What animal is this?\nAssistant: A cat.\nHuman: What colour is it?\n"
            "Assistant:");
  EXPECT_EQ(second.target.back(), (*tokenizer)->eos_id());
  EXPECT_EQ((*tokenizer)->Decode(second.target).value(), " Brown and grey.");

  // Align examples: captions with EOS; conversations are issues.
  auto captions = ReadManifest(TrainEnv::Get().captions());
  auto align = BuildExamples(*captions, TrainStage::kAlign, *builder, **tokenizer, 512, &issues);
  ASSERT_TRUE(align.ok());
  ASSERT_EQ(align->examples.size(), 6u);
  const TrainExample& e = align->examples[0];
  EXPECT_TRUE(e.text.empty());
  EXPECT_EQ(e.n_positions(), static_cast<int>(e.prefix.size() + e.target.size()));

  // Batch: [P, img, c0..c_{n-2}] for the align example, right-padded.
  at::Tensor features = at::arange(6 * 4, at::kFloat).view({6, 4});
  std::vector<const TrainExample*> two = {&align->examples[1], &align->examples[0]};
  TrainBatch batch = MakeBatch(two, features);
  const int64_t T = batch.ids.size(1);
  EXPECT_EQ(T, std::max(two[0]->n_positions(), two[1]->n_positions()));
  EXPECT_EQ(batch.n_targets, static_cast<int64_t>(two[0]->target.size() + two[1]->target.size()));
  EXPECT_EQ(batch.mask[1].sum().item<int64_t>(), e.n_positions());
  const int64_t p = static_cast<int64_t>(e.prefix.size());
  EXPECT_EQ(batch.image_pos[1].item<int64_t>(), p);
  EXPECT_EQ(batch.ids[1][p + 1].item<int64_t>(), e.target[0]);
  // Row 1's first label is predicted at the image position.
  const int64_t n0 = static_cast<int64_t>(two[0]->target.size());
  EXPECT_EQ(batch.label_pos[n0].item<int64_t>(), T + p);
  EXPECT_EQ(batch.labels[n0].item<int64_t>(), e.target[0]);
  EXPECT_TRUE(at::equal(batch.h_i[1], features[e.image]));
  EXPECT_FALSE(batch.slot_pos.defined());

  // Over-long prompts are issues; targets are truncated to fit.
  issues.clear();
  auto tight = BuildExamples(*manifest, TrainStage::kInstruct, *builder, **tokenizer, 20, &issues);
  ASSERT_TRUE(tight.ok());
  for (const TrainExample& x : tight->examples) EXPECT_LE(x.n_positions(), 20);
  EXPECT_FALSE(issues.empty());
}

TEST(TrainDataTest, VqaLinesTrainUnderTheAnswerVqaPrompt) {
  const std::string path = TrainEnv::Get().root() + "/vqa.jsonl";
  WriteFile(path,
            "{\"image\": \"a.jpg\", \"question\": \"What color is the cat?\", \"answer\": "
            "\"grey\"}\n"
            "{\"image\": \"b.jpg\", \"question\": \"What?\"}\n"
            "{\"image\": \"c.jpg\", \"question\": \"What?\", \"caption\": \"x\"}\n");
  auto m = ReadManifest(path);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->records.size(), 1u);
  EXPECT_TRUE(m->records[0].is_vqa());
  EXPECT_FALSE(m->records[0].is_caption());
  ASSERT_EQ(m->issues.size(), 2u);
  EXPECT_NE(m->issues[0].message.find("answer"), std::string::npos) << m->issues[0].message;
  EXPECT_NE(m->issues[1].message.find("exactly one"), std::string::npos) << m->issues[1].message;

  auto tokenizer = LoadTokenizer(TrainEnv::Get().model() + "/llm");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto builder = PromptBuilder::Create(tokenizer->get());
  ASSERT_TRUE(builder.ok());
  std::vector<ManifestIssue> issues;
  auto set = BuildExamples(*m, TrainStage::kInstruct, *builder, **tokenizer, 512, &issues);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->examples.size(), 1u);
  // The prompt serving builds for AnswerVQA (short), so training and serving agree.
  auto served = builder->AnswerVqa("What color is the cat?", VqaStyle::kShort);
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(set->examples[0].text, served->text);
  EXPECT_EQ((*tokenizer)->Decode(set->examples[0].target).value(), " grey");
  // Not a caption: an align manifest skips it.
  issues.clear();
  auto align = BuildExamples(*m, TrainStage::kAlign, *builder, **tokenizer, 512, &issues);
  ASSERT_TRUE(align.ok());
  EXPECT_TRUE(align->examples.empty());
  EXPECT_EQ(issues.size(), 1u);
}

TEST(TrainDataTest, UnreadableImagesAreSkippedAndCountedFatalOverTheFraction) {
  const std::string path = TrainEnv::Get().root() + "/bad_images.jsonl";
  std::string text = testing::CaptionManifest();
  text += "{\"image\": \"" + ImagePath("bad/truncated.jpg") + "\", \"caption\": \"Broken.\"}\n";
  text += "{\"image\": \"missing.jpg\", \"caption\": \"Nothing.\"}\n";
  text += "{oops\n";
  WriteFile(path, text);
  TrainConfig config = TrainEnv::Get().Config(TrainStage::kAlign, "bad_images");
  config.data = path;
  config.max_skip_fraction = 0.2;  // 3 of 9 lines is over
  auto fails = Trainer::Create(config);
  ASSERT_FALSE(fails.ok());
  EXPECT_NE(fails.status().message().find("3 of 9 lines skipped"), std::string::npos)
      << fails.status();
  config.max_skip_fraction = 0.5;
  std::ostringstream log;
  auto trainer = Trainer::Create(config, &log);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_EQ(Ipn(**trainer).data().examples.size(), 6u);
  EXPECT_NE(log.str().find(path + ":7: image: " + ImagePath("bad/truncated.jpg")),
            std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find(path + ":8: image: cannot open image " + TrainEnv::Get().root() +
                           "/missing.jpg"),
            std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find(path + ":9: not valid JSON"), std::string::npos) << log.str();
}

TEST(FeatureCacheTest, SecondRunReadsTheFeaturesTheFirstWrote) {
  TrainConfig config = TrainEnv::Get().Config(TrainStage::kAlign, "cache");
  config.feature_cache = TrainEnv::Get().root() + "/features.safetensors";
  std::filesystem::remove(config.feature_cache);
  std::ostringstream first_log, second_log;
  auto first = Trainer::Create(config, &first_log);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(first_log.str().find("0 from the cache, 6 encoded"), std::string::npos)
      << first_log.str();
  auto second = Trainer::Create(config, &second_log);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second_log.str().find("6 from the cache, 0 encoded"), std::string::npos)
      << second_log.str();
  EXPECT_TRUE(at::equal(Ipn(**first).features(), Ipn(**second).features()));
  // The conversations share 5 of the 6 photos; the cache grows to the union.
  config.stage = TrainStage::kInstruct;
  config.data = TrainEnv::Get().conversations();
  std::ostringstream third_log;
  auto third = Trainer::Create(config, &third_log);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE(third_log.str().find("5 from the cache, 0 encoded"), std::string::npos)
      << third_log.str();
}

// The vision tower's weight files are part of what a cached row depends on: a model directory
// that links to the same files (as every stage's output does) reads the cache, and a tower with
// the same config.json but another weight file (retrained; here the same bytes with a new
// modification time) is encoded again.
TEST(FeatureCacheTest, AnotherVisionWeightFileMissesTheCache) {
  namespace fs = std::filesystem;
  const TrainEnv& env = TrainEnv::Get();
  TrainConfig config = env.Config(TrainStage::kAlign, "cache_weights");
  config.feature_cache = env.root() + "/features_weights.safetensors";
  fs::remove(config.feature_cache);
  const std::string linked = env.root() + "/model_linked", copied = env.root() + "/model_copied";
  for (const std::string& dir : {linked, copied}) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(env.model())) {
      const std::string name = entry.path().filename().string();
      if (dir == copied && name == "clip") {
        fs::copy(entry.path(), dir + "/clip", fs::copy_options::recursive);
      } else {
        fs::create_symlink(entry.path(), dir + "/" + name);
      }
    }
  }
  int moved = 0;
  for (const auto& entry : fs::directory_iterator(copied + "/clip")) {
    if (entry.path().extension() != ".safetensors") continue;
    fs::last_write_time(entry.path(), fs::last_write_time(entry.path()) + std::chrono::seconds(10));
    ++moved;
  }
  ASSERT_GT(moved, 0);
  auto run = [&](const std::string& model) {
    config.model = model;
    std::ostringstream log;
    auto trainer = Trainer::Create(config, &log);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    return log.str();
  };
  std::string log = run(env.model());
  EXPECT_NE(log.find("0 from the cache, 6 encoded"), std::string::npos) << log;
  log = run(linked);
  EXPECT_NE(log.find("6 from the cache, 0 encoded"), std::string::npos) << log;
  log = run(copied);
  EXPECT_NE(log.find("0 from the cache, 6 encoded"), std::string::npos) << log;
}

TEST(LrScheduleTest, LinearWarmupThenCosineToTheFloor) {
  LrSchedule s{1e-3, 4, 14, 0.1};
  EXPECT_DOUBLE_EQ(s.At(0), 0.25e-3);
  EXPECT_DOUBLE_EQ(s.At(3), 1e-3);
  EXPECT_DOUBLE_EQ(s.At(4), 1e-3);
  EXPECT_NEAR(s.At(9), 1e-3 * (0.1 + 0.9 * 0.5), 1e-12);  // half way
  EXPECT_NEAR(s.At(14), 1e-4, 1e-12);
  EXPECT_NEAR(s.At(100), 1e-4, 1e-12);
  LrSchedule flat{1e-4, 0, 1, 0.0};
  EXPECT_DOUBLE_EQ(flat.At(0), 1e-4);
}

TEST(TrainConfigTest, YamlAndFlagsAndValidateNameTheKey) {
  const std::string dir = TrainEnv::Get().root();
  WriteFile(dir + "/train.yaml",
            "model: m\nstage: instruct\ndata: d.jsonl\noutput_dir: /abs/out\nlr: 2e-4\n"
            "grad_accum: 4\nresume: true\n");
  TrainConfig c;
  ASSERT_TRUE(LoadTrainConfigYaml(dir + "/train.yaml", &c).ok());
  EXPECT_EQ(c.model, dir + "/m");
  EXPECT_EQ(c.data, dir + "/d.jsonl");
  EXPECT_EQ(c.output_dir, "/abs/out");
  EXPECT_EQ(c.stage, TrainStage::kInstruct);
  EXPECT_DOUBLE_EQ(c.lr, 2e-4);
  EXPECT_EQ(c.grad_accum, 4);
  EXPECT_TRUE(c.resume);
  EXPECT_TRUE(c.Validate().ok());
  ASSERT_TRUE(SetTrainConfigValue("lr", "1e-3", "", &c).ok());
  EXPECT_DOUBLE_EQ(c.lr, 1e-3);

  absl::Status s = SetTrainConfigValue("batch_size", "lots", "", &c);
  EXPECT_EQ(s.message(), "batch_size: expected an integer, got \"lots\"");
  EXPECT_NE(SetTrainConfigValue("lr_rate", "1", "", &c).message().find("unknown key \"lr_rate\""),
            std::string::npos);
  WriteFile(dir + "/typo.yaml", "model: m\nlearning_rate: 1\n");
  s = LoadTrainConfigYaml(dir + "/typo.yaml", &c);
  EXPECT_NE(s.message().find("typo.yaml:2: unknown key \"learning_rate\""), std::string::npos) << s;
  c.device = "tpu";
  EXPECT_EQ(c.Validate().message().substr(0, 8), "device: ");
  c.device = "cpu";
  EXPECT_EQ(SetTrainConfigValue("dist_backend", "mpi", "", &c).message(),
            "dist_backend: expected auto, gloo or nccl, got \"mpi\"");
  ASSERT_TRUE(SetTrainConfigValue("dist_backend", "nccl", "", &c).ok());
  EXPECT_EQ(c.Validate().message(), "dist_backend: nccl needs a CUDA device (use gloo on the CPU)");
  c.dist_backend = "gloo";
  c.warmup_steps = -1;
  EXPECT_EQ(c.Validate().message(), "warmup_steps: must be >= 0");
  c.warmup_steps = 0;
  ASSERT_TRUE(SetTrainConfigValue("label_weight", "-0.5", "", &c).ok());
  EXPECT_EQ(c.Validate().message(), "label_weight: must be >= 0 (0: off)");
  TrainConfig empty;
  EXPECT_EQ(empty.Validate().message(), "model: required (an LMEye model directory)");
  EXPECT_EQ(TrainConfigKeys().front(), "model");
}

// Evaluation shards: rank r of W takes examples r, r + W, ..., in micro-batches.
TEST(TrainConfigTest, EvalShardBatchesStrideAndChunk) {
  using Batches = std::vector<std::vector<int64_t>>;
  EXPECT_EQ(EvalShardBatches(7, 1, 2, 2), (Batches{{1, 3}, {5}}));
  EXPECT_EQ(EvalShardBatches(7, 0, 1, 3), (Batches{{0, 1, 2}, {3, 4, 5}, {6}}));
  EXPECT_EQ(EvalShardBatches(2, 3, 4, 8), Batches{});
  EXPECT_EQ(EvalShardBatches(0, 0, 1, 8), Batches{});
}

}  // namespace
}  // namespace lmeye
