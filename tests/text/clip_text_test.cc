// The CLIP text tower against the Hugging Face goldens (fp32, model/common/golden_tolerance.h's
// rule): token ids with EOS pooling, caller-provided input embeddings with and without positions,
// the IPN interaction of the LMEye fixture, both EOS rules, gradients into inputs_embeds, bf16,
// and clear errors.
#include "model/text/clip_text.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/io/safetensors.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::string TextDir() { return testing::TestData("models/clip-text-tiny"); }
std::string LmeyeDir() { return testing::TestData("models/lmeye-tiny-opt"); }

at::Tensor Golden(const std::string& dir, const std::string& name) {
  return testing::LoadGolden(dir, name);
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::unique_ptr<ClipTextTower> LoadOrDie(const std::string& dir, ClipRuntimeOptions options = {}) {
  auto tower = ClipTextTower::Load(dir, options);
  EXPECT_TRUE(tower.ok()) << tower.status();
  return tower.ok() ? std::move(*tower) : nullptr;
}

void ExpectClose(const std::string& name, const at::Tensor& actual, const at::Tensor& golden) {
  testing::ExpectMatchesGolden(name, actual, golden);
}

TEST(ClipTextTest, TokenIdsMatchHuggingFaceGoldens) {
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  EXPECT_TRUE(tower->has_projection());
  EXPECT_EQ(tower->eos_word_id(), 999);
  torch::NoGradGuard no_grad;
  ClipTextForwardOptions options;
  options.output_hidden_states = true;
  auto out = tower->ForwardIds(Golden(TextDir(), "input_ids"), options);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->hidden_states.size(), 3u);
  EXPECT_TRUE(at::equal(out->pool_index, Golden(TextDir(), "pool_index")))
      << out->pool_index;  // [8, 11]: the first of row 0's padding eos ids
  for (int i = 0; i < 3; ++i) {
    const std::string name = "hidden_states." + std::to_string(i);
    ExpectClose("clip-text-tiny " + name, out->hidden_states[i], Golden(TextDir(), name));
  }
  ExpectClose("clip-text-tiny last_hidden_state", out->last_hidden_state,
              Golden(TextDir(), "last_hidden_state"));
  ExpectClose("clip-text-tiny pooler_output", out->pooler_output,
              Golden(TextDir(), "pooler_output"));
  ExpectClose("clip-text-tiny text_embeds", out->text_embeds, Golden(TextDir(), "text_embeds"));
}

// docs/STYLE.md 3: the module tree is the checkpoint's tensor table, no more and no less.
TEST(ClipTextTest, ModuleNamesAreTheCheckpointKeys) {
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  std::set<std::string> names;
  for (const auto& p : tower->module()->named_parameters()) names.insert(p.key());
  auto file = SafetensorsFile::Open(TextDir() + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::set<std::string> keys;
  for (const auto& e : (*file)->entries()) keys.insert(e.name);
  EXPECT_EQ(names, keys);
  EXPECT_EQ(names.size(), 37u);  // golden.json weights.num_tensors
}

TEST(ClipTextTest, InputEmbeddingsMatchGoldens) {
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  torch::NoGradGuard no_grad;
  auto embeds = tower->ForwardEmbeds(Golden(TextDir(), "embeds_inputs_embeds"),
                                     /*add_positions=*/true);
  ASSERT_TRUE(embeds.ok()) << embeds.status();
  ExpectClose("clip-text-tiny embeds_last_hidden_state", *embeds,
              Golden(TextDir(), "embeds_last_hidden_state"));
  auto projected = tower->Project(*embeds);
  ASSERT_TRUE(projected.ok()) << projected.status();
  ExpectClose("clip-text-tiny embeds_projected", *projected, Golden(TextDir(), "embeds_projected"));

  auto direct = tower->ForwardEmbeds(Golden(TextDir(), "direct_hidden_states_in"),
                                     /*add_positions=*/false);
  ASSERT_TRUE(direct.ok()) << direct.status();
  ExpectClose("clip-text-tiny direct_last_hidden_state", *direct,
              Golden(TextDir(), "direct_last_hidden_state"));
  auto direct_projected = tower->Project(*direct);
  ASSERT_TRUE(direct_projected.ok()) << direct_projected.status();
  ExpectClose("clip-text-tiny direct_projected", *direct_projected,
              Golden(TextDir(), "direct_projected"));
}

TEST(ClipTextTest, EmbeddingsPathEqualsIdsPath) {
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  torch::NoGradGuard no_grad;
  at::Tensor ids = Golden(TextDir(), "input_ids");
  auto by_ids = tower->ForwardIds(ids);
  ASSERT_TRUE(by_ids.ok()) << by_ids.status();
  auto rows = tower->TokenEmbeddings(ids);
  ASSERT_TRUE(rows.ok()) << rows.status();
  auto by_embeds = tower->ForwardEmbeds(*rows, /*add_positions=*/true);
  ASSERT_TRUE(by_embeds.ok()) << by_embeds.status();
  EXPECT_EQ(MaxAbsDiff(*by_embeds, by_ids->last_hidden_state), 0.0);
}

// docs/DESIGN.md 2 step 4 on the LMEye fixture: [h_f_1..h_f_K, h_R, E_t[eos]] + P_t[0..K+1]
// through the causal encoder and final norm; o = the last row.
TEST(ClipTextTest, IpnInteractionOfTheLmeyeFixture) {
  auto tower = LoadOrDie(LmeyeDir() + "/clip");  // a full CLIPModel checkpoint
  ASSERT_NE(tower, nullptr);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(tower->eos_word_id(), Golden(LmeyeDir(), "interaction.eos_token_id").item<int64_t>());
  std::vector<at::Tensor> inputs;
  for (int s = 0; s < 2; ++s) {
    const std::string p = "s" + std::to_string(s) + ".";
    at::Tensor rows =
        at::cat({Golden(LmeyeDir(), p + "h_f"), Golden(LmeyeDir(), p + "h_R").unsqueeze(0),
                 tower->EosWordEmbedding().unsqueeze(0)},
                0);  // [K + 2, d_t]
    at::Tensor input = rows + tower->PositionEmbeddings().slice(0, 0, rows.size(0));
    ExpectClose("lmeye-tiny-opt " + p + "interaction.input", input,
                Golden(LmeyeDir(), p + "interaction.input"));
    inputs.push_back(rows);
  }
  // Batched: [2, K + 2, d_t], positions added by the tower.
  auto out = tower->ForwardEmbeds(at::stack(inputs), /*add_positions=*/true);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int s = 0; s < 2; ++s) {
    const std::string p = "s" + std::to_string(s) + ".";
    ExpectClose("lmeye-tiny-opt " + p + "interaction.last_hidden_state", (*out)[s],
                Golden(LmeyeDir(), p + "interaction.last_hidden_state"));
    at::Tensor o = (*out)[s][-1];
    ExpectClose("lmeye-tiny-opt " + p + "interaction.output_normed", o,
                Golden(LmeyeDir(), p + "interaction.output_normed"));
    auto projected = tower->Project(o);
    ASSERT_TRUE(projected.ok()) << projected.status();
    ExpectClose("lmeye-tiny-opt " + p + "interaction.output_projected", *projected,
                Golden(LmeyeDir(), p + "interaction.output_projected"));
  }
}

TEST(ClipTextTest, NonLegacyEosPoolsAtTheFirstEosToken) {
  // The same weights under a config with eos_token_id 5 (transformers >= PR #24773 configs).
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "/clip_text_eos5";
  fs::create_directories(dir);
  fs::copy_file(TextDir() + "/model.safetensors", dir + "/model.safetensors",
                fs::copy_options::overwrite_existing);
  std::ifstream in(TextDir() + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["eos_token_id"] = 5;
  std::ofstream(dir + "/config.json") << config.dump();
  auto tower = LoadOrDie(dir);
  ASSERT_NE(tower, nullptr);
  EXPECT_EQ(tower->eos_word_id(), 5);
  torch::NoGradGuard no_grad;
  at::Tensor ids = at::tensor({7, 5, 900, 5, 3, 3, 8, 9, 5, 12, 40, 41}, at::kLong).view({3, 4});
  EXPECT_TRUE(at::equal(tower->PoolIndex(ids), at::tensor({1, 0, 0}, at::kLong)))
      << tower->PoolIndex(ids);  // row 1 has no eos: 0, as transformers
  auto out = tower->ForwardIds(ids);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(MaxAbsDiff(out->pooler_output[0], out->last_hidden_state[0][1]), 0.0);
  // The legacy rule would have pooled at the highest id (900, position 2).
  auto legacy = LoadOrDie(TextDir());
  ASSERT_NE(legacy, nullptr);
  EXPECT_EQ(legacy->PoolIndex(ids)[0].item<int64_t>(), 2);
}

TEST(ClipTextTest, GradientsReachInputEmbeddingsNotWeights) {
  // IPN phase 2 trains request/decompose upstream of the frozen text encoder.
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  at::Tensor x = Golden(TextDir(), "embeds_inputs_embeds").clone().set_requires_grad(true);
  auto out = tower->ForwardEmbeds(x, /*add_positions=*/true);
  ASSERT_TRUE(out.ok()) << out.status();
  out->select(1, -1).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  // Causal: the last position sees every row.
  EXPECT_GT(x.grad()[0][0].abs().sum().item<double>(), 0.0);
  for (const auto& p : tower->module()->parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
}

TEST(ClipTextTest, AttentionMaskHidesPaddingKeys) {
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  torch::NoGradGuard no_grad;
  // Left padding: row 1 = [pad, pad, a, b, c]; with the mask its real rows attend only to real
  // keys, so they differ from the unmasked run.
  at::Tensor ids = at::tensor({10, 11, 12, 13, 14, 1, 1, 12, 13, 14}, at::kLong).view({2, 5});
  at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 0, 0, 1, 1, 1}, at::kLong).view({2, 5});
  ClipTextForwardOptions options;
  options.attention_mask = mask;
  auto masked = tower->ForwardIds(ids, options);
  auto plain = tower->ForwardIds(ids);
  ASSERT_TRUE(masked.ok()) << masked.status();
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(MaxAbsDiff(masked->last_hidden_state[0], plain->last_hidden_state[0]), 0.0);
  EXPECT_GT(
      MaxAbsDiff(masked->last_hidden_state[1].slice(0, 2), plain->last_hidden_state[1].slice(0, 2)),
      1e-3);
  EXPECT_TRUE(at::isfinite(masked->last_hidden_state).all().item<bool>());  // padded queries too

  options.attention_mask = at::ones({2, 4}, at::kLong);
  auto bad = tower->ForwardIds(ids, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("attention_mask"));
}

TEST(ClipTextTest, Bf16ComputeRuns) {
  ClipRuntimeOptions options;
  options.dtype = at::kBFloat16;
  auto tower = LoadOrDie(TextDir(), options);
  ASSERT_NE(tower, nullptr);
  torch::NoGradGuard no_grad;
  auto out = tower->ForwardIds(Golden(TextDir(), "input_ids"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->text_embeds.scalar_type(), at::kBFloat16);
  at::Tensor golden = Golden(TextDir(), "pooler_output");
  double diff = MaxAbsDiff(out->pooler_output, golden);
  EXPECT_LE(diff, 0.1 * golden.abs().max().item<double>());
  std::printf("clip-text-tiny bf16 pooler_output max abs diff %.3e\n", diff);
  auto embeds = tower->ForwardEmbeds(Golden(TextDir(), "embeds_inputs_embeds"), true);
  ASSERT_TRUE(embeds.ok()) << embeds.status();
  EXPECT_EQ(embeds->scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::isfinite(*embeds).all().item<bool>());
}

TEST(ClipTextTest, BadInputsAreErrors) {
  auto tower = LoadOrDie(TextDir());
  ASSERT_NE(tower, nullptr);
  torch::NoGradGuard no_grad;
  auto expect_error = [](const auto& result, const std::string& what) {
    ASSERT_FALSE(result.ok()) << what;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(what));
  };
  expect_error(tower->ForwardIds(at::zeros({2, 3, 4}, at::kLong)), "input_ids must be");
  expect_error(tower->ForwardIds(at::zeros({2, 3}, at::kFloat)), "input_ids must be");
  expect_error(tower->ForwardIds(at::zeros({1, 17}, at::kLong)), "max_position_embeddings");
  expect_error(tower->ForwardIds(at::full({1, 3}, 1000, at::kLong)), "outside the vocabulary");
  expect_error(tower->ForwardIds(at::full({1, 3}, -1, at::kLong)), "outside the vocabulary");
  expect_error(tower->ForwardEmbeds(at::zeros({1, 3, 47}), true), "inputs_embeds must be");
  expect_error(tower->ForwardEmbeds(at::zeros({3, 48}), true), "inputs_embeds must be");
  expect_error(tower->ForwardEmbeds(at::zeros({1, 17, 48}), true), "max_position_embeddings");
  expect_error(tower->TokenEmbeddings(at::full({2}, 1000, at::kLong)), "outside the vocabulary");
  expect_error(tower->Project(at::zeros({2, 47})), "Project expects");
  // Without positions the table size does not limit the length.
  EXPECT_TRUE(tower->ForwardEmbeds(at::zeros({1, 17, 48}), false).ok());
}

TEST(ClipTextTest, LoadErrors) {
  auto vision = ClipTextTower::Load(testing::TestData("models/clip-vision-tiny"));
  ASSERT_FALSE(vision.ok());
  EXPECT_THAT(vision.status().message(), HasSubstr("vision tower"));
  auto llama = ClipTextTower::Load(testing::TestData("models/llama-tiny"));
  ASSERT_FALSE(llama.ok());
  EXPECT_THAT(llama.status().message(), HasSubstr("unsupported"));

  // Missing text_projection: a CLIPTextModel; Project then fails cleanly.
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "/clip_text_no_projection";
  fs::create_directories(dir);
  fs::copy_file(TextDir() + "/config.json", dir + "/config.json",
                fs::copy_options::overwrite_existing);
  auto file = SafetensorsFile::Open(TextDir() + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& e : (*file)->entries()) {
    if (e.name == "text_projection.weight") continue;
    tensors.emplace_back(e.name, *(*file)->Load(e.name));
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
  auto plain = LoadOrDie(dir);
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->has_projection());
  auto projected = plain->Project(at::zeros({1, 48}));
  ASSERT_FALSE(projected.ok());
  EXPECT_EQ(projected.status().code(), absl::StatusCode::kFailedPrecondition);

  // Now one tensor mis-shaped and one missing.
  for (auto& [name, t] : tensors) {
    if (name == "text_model.embeddings.token_embedding.weight") t = t.slice(0, 0, 999).contiguous();
  }
  tensors.erase(
      std::remove_if(tensors.begin(), tensors.end(),
                     [](const auto& p) { return p.first == "text_model.final_layer_norm.bias"; }),
      tensors.end());
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
  auto broken = ClipTextTower::Load(dir);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(broken.status().message(),
              HasSubstr("missing tensors: text_model.final_layer_norm.bias"));
  EXPECT_THAT(broken.status().message(),
              HasSubstr("text_model.embeddings.token_embedding.weight (checkpoint [999,48], "
                        "model [1000,48])"));
}

}  // namespace
}  // namespace lmeye
