// lmeye init-model: the tiny presets of every family load as an LMEye model and run text in ->
// text out; the preset tables match the published checkpoints' parameter counts; the configs
// read back; errors for bad presets and occupied output directories.
#include "model/tools/init_model.h"

#include <stdlib.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/ipn/lmeye_model.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/vision/image_preprocess.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using ::lmeye::testing::ScratchDir;
using ::lmeye::testing::TestData;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct FamilyCase {
  LlmFamily family;
  std::string tokenizer;  // under tests/data/tokenizers
  bool expect_varied;
};

void PrintTo(const FamilyCase& c, std::ostream* os) {
  *os << LlmFamilyName(c.family) << " + " << c.tokenizer;
}

class InitModelTinyTest : public ::testing::TestWithParam<FamilyCase> {};

// Image + prompt -> first pass -> interaction -> second pass -> greedy tokens -> text.
TEST_P(InitModelTinyTest, LoadsAndGeneratesText) {
  const FamilyCase& c = GetParam();
  ScratchDir tmp;
  InitModelOptions options;
  options.family = c.family;
  options.tokenizer_dir = TestData("tokenizers/" + c.tokenizer);
  options.out_dir = tmp.path() + "/model";
  options.seed = 7;
  absl::StatusOr<InitModelReport> report = InitModel(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(fs::exists(tmp.path() + "/model/llm/model.safetensors.index.json"));
  EXPECT_GT(report->bytes_written, 0);

  absl::StatusOr<std::unique_ptr<LmeyeModel>> model = LmeyeModel::Load(options.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(options.out_dir + "/llm");
  ASSERT_TRUE(tok.ok()) << tok.status();
  const LlmModel& llm = (*model)->llm();
  const int64_t vocab = llm.config().vocab_size;
  EXPECT_EQ(vocab, report->vocab_size);
  EXPECT_LE((*tok)->vocab_size(), vocab);
  EXPECT_EQ(vocab % 64, 0);
  EXPECT_GE((*tok)->eos_id(), 0);
  EXPECT_GE((*tok)->pad_id(), 0);
  ASSERT_EQ(llm.config().eos_token_ids.size(), 1u);
  EXPECT_EQ(llm.config().eos_token_ids[0], (*tok)->eos_id());
  EXPECT_EQ(llm.config().pad_token_id, (*tok)->pad_id());
  EXPECT_GT(report->llm_params, 0);
  EXPECT_GT(report->clip_params, 0);
  EXPECT_GT(report->adapter_params, 0);

  torch::NoGradGuard no_grad;
  at::manual_seed(0);
  at::Tensor pixels = at::randn({1, 3, 224, 224});
  absl::StatusOr<at::Tensor> h_i = (*model)->ImageFeature(pixels);
  ASSERT_TRUE(h_i.ok()) << h_i.status();
  absl::StatusOr<at::Tensor> h_img = (*model)->ImageToken(*h_i);  // [1, d_L]
  ASSERT_TRUE(h_img.ok()) << h_img.status();

  auto embed = [&](const std::vector<int>& ids) {
    std::vector<int64_t> v(ids.begin(), ids.end());
    at::Tensor t = at::tensor(v, at::kLong).view({1, -1});
    absl::StatusOr<at::Tensor> e = llm.EmbedTokens(t);
    EXPECT_TRUE(e.ok()) << e.status();
    return *e;  // [1, T, d_L]
  };
  absl::StatusOr<std::vector<int>> prompt =
      (*tok)->Encode("Question: what is in the picture?\nAnswer:");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  const std::vector<int> prefix = (*tok)->PromptPrefix();
  std::vector<at::Tensor> parts;
  if (!prefix.empty()) parts.push_back(embed(prefix));
  parts.push_back(h_img->unsqueeze(1));
  parts.push_back(embed(*prompt));
  at::Tensor before_slot = at::cat(parts, 1);
  at::Tensor first = at::cat({before_slot, (*model)->ImgdToken().view({1, 1, -1})}, 1);

  LlmInput in;
  in.inputs_embeds = first;
  absl::StatusOr<LlmOutput> out1 = llm.Forward(in, {LogitsAt::kNone});
  ASSERT_TRUE(out1.ok()) << out1.status();
  absl::StatusOr<at::Tensor> h_d = (*model)->Interact(*h_i, out1->last_token_state);
  ASSERT_TRUE(h_d.ok()) << h_d.status();
  at::Tensor sequence = at::cat({before_slot, (*model)->Slot(*h_d).unsqueeze(1)}, 1);

  // Greedy over the tokenizer's ids (the rows that pad the vocabulary to a multiple of 64 have
  // no text).
  std::vector<int> generated;
  for (int step = 0; step < 6; ++step) {
    LlmInput input;
    input.inputs_embeds = sequence;
    absl::StatusOr<LlmOutput> out = llm.Forward(input, {LogitsAt::kLast});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->logits.dim(), 2);
    ASSERT_EQ(out->logits.size(1), vocab);
    ASSERT_TRUE(at::isfinite(out->logits).all().item<bool>());
    const int id =
        static_cast<int>(out->logits.narrow(1, 0, (*tok)->vocab_size()).argmax(1).item<int64_t>());
    generated.push_back(id);
    sequence = at::cat({sequence, embed({id})}, 1);
  }
  absl::StatusOr<std::string> text = (*tok)->Decode(generated);
  ASSERT_TRUE(text.ok()) << text.status();
  // Random weights still give varied text (see SpecsOf in init_model.cc); a 290-id vocabulary
  // of single bytes may settle on one.
  if (c.expect_varied) {
    EXPECT_GE(std::set<int>(generated.begin(), generated.end()).size(), 3u) << *text;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, InitModelTinyTest,
                         ::testing::Values(FamilyCase{LlmFamily::kOpt, "gpt2", true},
                                           FamilyCase{LlmFamily::kBloom, "gpt2", true},
                                           FamilyCase{LlmFamily::kBloom, "tiny_hf/bloom_style",
                                                      false},
                                           FamilyCase{LlmFamily::kLlama, "llama_spm", true}),
                         [](const ::testing::TestParamInfo<FamilyCase>& info) {
                           std::string name = absl::StrCat(LlmFamilyName(info.param.family), "_",
                                                           info.param.tokenizer);
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(InitModelTest, OptWithGpt2TokenizerKeepsGpt2Ids) {
  ScratchDir tmp;
  InitModelOptions options;
  options.family = LlmFamily::kOpt;
  options.tokenizer_dir = TestData("tokenizers/gpt2");
  options.out_dir = tmp.path() + "/m";
  absl::StatusOr<InitModelReport> report = InitModel(options);
  ASSERT_TRUE(report.ok()) << report.status();
  // <|endoftext|> is BOS and EOS (prepended, as OPT prepends its </s>); <pad> is new.
  EXPECT_EQ(report->special_ids.bos, 50256);
  EXPECT_EQ(report->special_ids.eos, 50256);
  EXPECT_EQ(report->special_ids.pad, 50257);
  EXPECT_EQ(report->vocab_size, 50304);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(options.out_dir + "/llm");
  ASSERT_TRUE(tok.ok()) << tok.status();
  absl::StatusOr<std::vector<int>> ids = (*tok)->EncodeForPrompt("Hello world");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ::testing::ElementsAre(50256, 15496, 995));  // GPT-2 ids
  absl::StatusOr<std::string> text = (*tok)->Decode(*ids);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "Hello world");
}

// The demo shape: the CLIP text tower on the LLM's own vocabulary, its EOS word one id above
// every token (the legacy rule: pooled at argmax of the ids, like openai's CLIP).
TEST(InitModelTest, DemoPresetGivesTheTextTowerTheTokenizerVocabularyPlusEos) {
  ScratchDir tmp;
  InitModelOptions options;
  options.llm_preset = "demo";
  options.clip_preset = "demo";
  options.tokenizer_dir = TestData("tokenizers/gpt2");
  options.out_dir = tmp.path() + "/m";
  absl::StatusOr<InitModelReport> report = InitModel(options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto model = LmeyeModel::Load(options.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const ClipTextConfig& text = (*model)->text().config();
  EXPECT_EQ(text.vocab_size, report->tokenizer_vocab + 1);
  EXPECT_TRUE(text.legacy_eos());
  EXPECT_EQ((*model)->text().eos_word_id(), report->tokenizer_vocab);
  EXPECT_EQ((*model)->vision().config().image_size, 64);
  EXPECT_EQ((*model)->llm().config().hidden_size, 192);
}

// --image-size: the vision tower's input, its position table and the preprocessor follow it; a
// size the patches do not tile is an error naming it, and nothing is written.
TEST(InitModelTest, ImageSizeOverridesThePresetAndIsChecked) {
  ScratchDir tmp;
  InitModelOptions options;
  options.clip_preset = "demo";
  options.tokenizer_dir = TestData("tokenizers/gpt2");
  options.out_dir = tmp.path() + "/i48";
  options.image_size = 48;
  absl::StatusOr<InitModelReport> report = InitModel(options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto model = LmeyeModel::Load(options.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->vision().config().image_size, 48);
  // The preprocessor crops to it and the tower takes it (its position table: 6 x 6 patches and
  // the class token).
  auto pre = ClipImagePreprocessor::FromFile(options.out_dir + "/clip/preprocessor_config.json");
  ASSERT_TRUE(pre.ok()) << pre.status();
  absl::StatusOr<at::Tensor> pv = pre->Preprocess(cv::Mat(80, 100, CV_8UC3, cv::Scalar(9, 9, 9)));
  ASSERT_TRUE(pv.ok()) << pv.status();
  EXPECT_EQ(pv->size(1), 48);
  EXPECT_EQ(pv->size(2), 48);
  absl::StatusOr<ClipVisionOutput> h = (*model)->vision().Forward(pv->unsqueeze(0));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->last_hidden_state.size(1), 37);

  options.out_dir = tmp.path() + "/i50";
  options.image_size = 50;
  absl::StatusOr<InitModelReport> bad = InitModel(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("image_size 50"));
  EXPECT_FALSE(fs::exists(options.out_dir));
}

// --num-fine: K reaches adapter.json and the decompose layer's shape; a K the adapter format or
// the text tower's positions cannot take is an error naming it, and nothing is written.
TEST(InitModelTest, NumFineSetsKAndIsChecked) {
  ScratchDir tmp;
  InitModelOptions options;
  options.tokenizer_dir = TestData("tokenizers/gpt2");
  options.out_dir = tmp.path() + "/k11";
  options.num_fine = 11;
  absl::StatusOr<InitModelReport> report = InitModel(options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto model = LmeyeModel::Load(options.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->adapter_config().num_fine, 11);
  EXPECT_EQ((*model)->dims().k, 11);
  EXPECT_EQ((*model)->adapter()->decompose->weight.size(0), 11 * (*model)->dims().d_t);

  options.out_dir = tmp.path() + "/k0";
  options.num_fine = 0;
  absl::StatusOr<InitModelReport> zero = InitModel(options);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero.status().message(), HasSubstr("num_fine"));
  EXPECT_FALSE(fs::exists(options.out_dir));

  // The demo CLIP's text tower has 64 positions: K + 2 = 65 does not fit.
  options.clip_preset = "demo";
  options.out_dir = tmp.path() + "/k63";
  options.num_fine = 63;
  absl::StatusOr<InitModelReport> long_k = InitModel(options);
  ASSERT_FALSE(long_k.ok());
  EXPECT_THAT(long_k.status().message(), HasSubstr("num_fine + 2 = 65"));
  EXPECT_FALSE(fs::exists(options.out_dir));
}

TEST(InitModelTest, ShardedBf16LoadsAndSameSeedSameBytes) {
  ScratchDir tmp;
  InitModelOptions options;
  options.family = LlmFamily::kLlama;
  options.tokenizer_dir = TestData("tokenizers/llama_spm");
  options.out_dir = tmp.path() + "/a";
  options.dtype = InitDType::kBF16;
  options.max_shard_bytes = 1 << 20;
  options.seed = 3;
  absl::StatusOr<InitModelReport> a = InitModel(options);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_GT(a->n_llm_shards, 1);
  EXPECT_TRUE(fs::exists(options.out_dir + "/llm/model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(absl::StrCat(options.out_dir, "/llm/model-00001-of-",
                                      absl::StrFormat("%05d", a->n_llm_shards), ".safetensors")));
  absl::StatusOr<std::unique_ptr<LmeyeModel>> model = LmeyeModel::Load(options.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->llm().config().vocab_size, 32000);  // LLaMA's tokenizer: no growth

  options.out_dir = tmp.path() + "/b";
  options.max_shard_bytes = int64_t{1} << 40;
  ASSERT_TRUE(InitModel(options).ok());
  EXPECT_EQ(ReadFile(tmp.path() + "/a/clip/model.safetensors"),
            ReadFile(tmp.path() + "/b/clip/model.safetensors"));
  EXPECT_EQ(ReadFile(tmp.path() + "/a/adapter.safetensors"),
            ReadFile(tmp.path() + "/b/adapter.safetensors"));
}

TEST(InitModelTest, PresetTablesMatchPublishedParameterCounts) {
  absl::StatusOr<LlmPreset> opt125 = FindLlmPreset(LlmFamily::kOpt, "125m");
  ASSERT_TRUE(opt125.ok());
  absl::StatusOr<int64_t> n = LlmPresetParameterCount(*opt125, opt125->vocab_size);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 125'239'296);  // facebook/opt-125m, embeddings included, tied head once
  for (const LlmPreset& p : LlmPresets()) {
    if (p.real_params == 0) continue;
    absl::StatusOr<int64_t> count = LlmPresetParameterCount(p, p.vocab_size);
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, p.real_params) << LlmFamilyName(p.family) << " " << p.name;
  }
  // Builds each CLIP model on the CPU (vit-l-14: 1.7 GB for a few seconds).
  for (const ClipPreset& p : ClipPresets()) {
    if (p.real_params == 0) continue;
    absl::StatusOr<int64_t> count = ClipPresetParameterCount(p);
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, p.real_params) << p.name;  // openai/clip-*, logit_scale included
  }
}

TEST(InitModelTest, ConfigsReadBackToThePresetShape) {
  for (const LlmPreset& p : LlmPresets()) {
    absl::StatusOr<LlmConfig> c =
        ParseLlmConfig(LlmConfigJson(p, 1024, {1, 2, 0}, p.default_dtype));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->family, p.family);
    EXPECT_EQ(c->hidden_size, p.hidden_size);
    EXPECT_EQ(c->n_layers, p.n_layers);
    EXPECT_EQ(c->n_heads, p.n_heads);
    EXPECT_EQ(c->ffn_dim, p.ffn_dim > 0 ? p.ffn_dim : 4 * p.hidden_size);
    EXPECT_EQ(c->vocab_size, 1024);
    EXPECT_DOUBLE_EQ(c->norm_eps, p.norm_eps);
  }
  for (const ClipPreset& preset : ClipPresets()) {
    const ClipPreset p = ResolveClipTextVocab(preset, 1024);  // the demo's: 1024 + its EOS word
    absl::StatusOr<ClipConfig> c = ParseClipConfig(ClipConfigJson(p, InitDType::kF32));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->vision->encoder.hidden_size, p.vision_hidden);
    EXPECT_EQ(c->vision->encoder.n_layers, p.vision_layers);
    EXPECT_EQ(c->vision->patch_size, p.patch_size);
    EXPECT_EQ(c->text->encoder.hidden_size, p.text_hidden);
    EXPECT_EQ(c->text->projection_dim, p.projection_dim);
    EXPECT_EQ(c->text->vocab_size, preset.text_vocab == 0 ? 1025 : preset.text_vocab);
  }
  absl::StatusOr<LlmPreset> iml = FindLlmPreset(LlmFamily::kOpt, "opt-iml-1.3b");  // alias
  ASSERT_TRUE(iml.ok());
  EXPECT_EQ(iml->hidden_size, 2048);
  absl::StatusOr<LlmPreset> llama = FindLlmPreset(LlmFamily::kLlama, "llama-7b");
  ASSERT_TRUE(llama.ok());
  EXPECT_EQ(llama->ffn_dim, 11008);
  EXPECT_DOUBLE_EQ(llama->norm_eps, 1e-6);
}

TEST(InitModelTest, UnknownPresetOrFamilyListsTheValidOnes) {
  absl::StatusOr<LlmPreset> p = FindLlmPreset(LlmFamily::kOpt, "66b");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("125m"));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("opt-iml-1.3b"));
  absl::StatusOr<ClipPreset> c = FindClipPreset("vit-h-14");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("vit-l-14"));
  absl::StatusOr<LlmFamily> f = ParseLlmFamily("gpt2");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("llama"));
  EXPECT_FALSE(ParseInitDType("f64").ok());

  ScratchDir tmp;
  InitModelOptions options;
  options.family = LlmFamily::kBloom;
  options.llm_preset = "7b2";
  options.tokenizer_dir = TestData("tokenizers/gpt2");
  options.out_dir = tmp.path() + "/m";
  EXPECT_EQ(InitModel(options).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(options.out_dir));
}

TEST(InitModelTest, NonEmptyOutNeedsForceAndForceReplacesOnlyModelDirs) {
  ScratchDir tmp;
  InitModelOptions options;
  options.family = LlmFamily::kOpt;
  options.tokenizer_dir = TestData("tokenizers/gpt2");
  options.out_dir = tmp.path() + "/out";
  fs::create_directories(options.out_dir);
  { std::ofstream(options.out_dir + "/notes.txt") << "keep me"; }

  absl::StatusOr<InitModelReport> r = InitModel(options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("--force"));
  options.force = true;  // still refused: not an LMEye model directory
  EXPECT_EQ(InitModel(options).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(options.out_dir + "/notes.txt"), "keep me");

  // An existing model directory is replaced with --force, and only with it.
  options.out_dir = tmp.path() + "/model";
  options.force = false;
  ASSERT_TRUE(InitModel(options).ok());
  EXPECT_EQ(InitModel(options).status().code(), absl::StatusCode::kFailedPrecondition);
  options.force = true;
  options.seed = 99;
  ASSERT_TRUE(InitModel(options).ok());
  EXPECT_TRUE(LmeyeModel::Load(options.out_dir).ok());
  // No staging or old directories are left next to the output.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) entries += e.is_directory() ? 1 : 0;
  EXPECT_EQ(entries, 2);  // out/ and model/
  // An empty existing directory is fine without --force.
  options.out_dir = tmp.path() + "/empty";
  options.force = false;
  fs::create_directories(options.out_dir);
  EXPECT_TRUE(InitModel(options).ok());
}

}  // namespace
}  // namespace lmeye
