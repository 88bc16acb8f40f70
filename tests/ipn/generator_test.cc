// End to end on a model `lmeye init-model` writes (tiny shapes, the real GPT-2 tokenizer, a
// real photo): text in, text out, through the image cache, sampling, beam search and choices.
#include "model/ipn/generator.h"
#include "model/common/file_util.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"
#include "tests/common/tiny_lmeye_model.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

class GeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_dir_ = new testing::TinyLmeyeModelDir(/*seed=*/3);
    ASSERT_TRUE(model_dir_->status().ok()) << model_dir_->status();
  }
  static void TearDownTestSuite() {
    delete model_dir_;
    model_dir_ = nullptr;
  }

  void SetUp() override {
    const std::string model_dir = model_dir_->path();
    auto model = LmeyeModel::Load(model_dir);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto tokenizer = LoadTokenizer(model_dir + "/llm");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::move(*tokenizer);
    auto preprocessor =
        ClipImagePreprocessor::FromFile(model_dir + "/clip/preprocessor_config.json");
    ASSERT_TRUE(preprocessor.ok()) << preprocessor.status();
    cache_ = std::make_unique<ImageFeatureCache>(ImageCacheOptions{});
    EngineOptions engine_options;
    engine_options.n_slots = 6;
    engine_options.capacity = 128;
    auto generator = LmeyeGenerator::Create(model_.get(), tokenizer_.get(), *preprocessor,
                                            cache_.get(), engine_options);
    ASSERT_TRUE(generator.ok()) << generator.status();
    generator_ = std::move(*generator);
    auto builder = PromptBuilder::Create(tokenizer_.get());
    ASSERT_TRUE(builder.ok()) << builder.status();
    builder_ = std::make_unique<PromptBuilder>(std::move(*builder));
    photo_ = ReadFileToString(testing::TestData("images/chelsea.png")).value();
  }

  GenerateRequest Vqa(const std::string& question) {
    GenerateRequest request;
    request.image = photo_;
    auto prompt = builder_->AnswerVqa(question);
    EXPECT_TRUE(prompt.ok()) << prompt.status();
    request.prompt = *prompt;
    request.sampling.max_new_tokens = 6;
    return request;
  }

  static testing::TinyLmeyeModelDir* model_dir_;
  std::unique_ptr<LmeyeModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ImageFeatureCache> cache_;
  std::unique_ptr<LmeyeGenerator> generator_;
  std::unique_ptr<PromptBuilder> builder_;
  std::string photo_;
};

testing::TinyLmeyeModelDir* GeneratorTest::model_dir_ = nullptr;

TEST_F(GeneratorTest, GreedyTextInTextOutStreamsAndHitsTheImageCache) {
  std::string streamed;
  auto first = generator_->Generate(Vqa("What animal is this?"), [&](absl::string_view delta) {
    streamed.append(delta.data(), delta.size());
  });
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->image_cache_hit);
  EXPECT_GE(first->tokens.size(), 1u);
  EXPECT_LE(first->tokens.size(), 6u);
  EXPECT_EQ(streamed, first->text);
  // The same image again: served from the cache, same greedy answer.
  auto second = generator_->Generate(Vqa("What animal is this?"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->image_cache_hit);
  EXPECT_EQ(second->tokens, first->tokens);
  EXPECT_EQ(cache_->stats().hits, 1u);
  EXPECT_EQ(generator_->engine().free_slots(), 6);
}

TEST_F(GeneratorTest, SeededSamplingIsReproducible) {
  GenerateRequest request = Vqa("Describe the colours.");
  request.sampling.temperature = 1.0;
  request.sampling.top_p = 0.95;
  request.sampling.seed = 1234;
  request.sampling.max_new_tokens = 8;
  auto a = generator_->Generate(request);
  auto b = generator_->Generate(request);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
}

TEST_F(GeneratorTest, BeamSearchAndStaticMode) {
  GenerateRequest request = Vqa("Where is the cat?");
  request.num_beams = 3;
  auto beams = generator_->Generate(request);
  ASSERT_TRUE(beams.ok()) << beams.status();
  EXPECT_GE(beams->tokens.size(), 1u);
  request.num_beams = 1;
  request.interaction = false;
  auto stat = generator_->Generate(request);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->n_prompt_positions + 1, beams->n_prompt_positions);
  EXPECT_EQ(generator_->engine().free_slots(), 6);
}

TEST_F(GeneratorTest, ScoresChoices) {
  std::vector<std::string> choices = {"a cat", "a dog", "a rocket"};
  auto prompt = builder_->MultipleChoice("What is in the picture?", choices);
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  auto scores = generator_->ScoreChoices(photo_, *prompt);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->choices.size(), 3u);
  EXPECT_GE(scores->best, 0);
  for (const auto& c : scores->choices) EXPECT_LT(c.total_logprob, 0.0);
}

TEST_F(GeneratorTest, BadInputsNameTheField) {
  GenerateRequest request = Vqa("Is it a cat?");
  request.image = "definitely not an image";
  auto result = generator_->Generate(request);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("image"));
  request = Vqa("Is it a cat?");
  request.sampling.top_p = 2.0;
  result = generator_->Generate(request);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("top_p"));
  EXPECT_EQ(generator_->engine().free_slots(), 6);
}

}  // namespace
}  // namespace lmeye
