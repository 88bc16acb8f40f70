// T5's slot cache against single-sequence decoding: a continuous batch (different encoder
// lengths, scrambled slots, sequences joining at different steps), a right-padded encoder batch,
// CopySlot then diverging continuations, and bad inputs that fail without touching the cache.
// Also the parts that need no goldens: the config parser's errors, loading errors that name the
// tensors, and CreateRandom (relu, tied lm_head) whose cached steps equal its full decoder pass.
#include <algorithm>

#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "model/common/file_util.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/llm/t5_modules.h"
#include "tests/common/scratch_dir.h"
#include "tests/llm/llm_test_util.h"
#include "tests/llm/t5_test_util.h"

namespace lmeye {
namespace {

using namespace ::lmeye::testing;  // NOLINT

constexpr int kSteps = 6;

class T5CacheTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    f_ = new T5Fixture(LoadT5Fixture());
    if (f_->model == nullptr) return;
    torch::NoGradGuard no_grad;
    // Each sample decoded alone: its greedy ids (teacher-forced in the batched runs) and every
    // step's logits.
    for (const char* s : kT5Samples) {
      Alone a;
      a.encoded = f_->Encoded(s);
      a.mask = f_->Mask(s);
      a.ids.push_back(0);
      auto cache = f_->model->NewCache(1, kSteps, a.mask.size(1));
      const int slot = *(*cache)->Allocate();
      EXPECT_TRUE(f_->model->StartDecoding(a.encoded, a.mask, **cache, {slot}).ok());
      for (int t = 0; t < kSteps; ++t) {
        a.logits.push_back(Step(*f_->model, Token(a.ids.back()), **cache, {slot})[0]);
        a.ids.push_back(a.logits.back().argmax().item<int64_t>());
      }
      alone_.push_back(a);
    }
  }
  static void TearDownTestSuite() {
    delete f_;
    f_ = nullptr;
    alone_.clear();
  }
  void SetUp() override { ASSERT_NE(f_->model, nullptr); }

  std::unique_ptr<T5Cache> Cache(int n_slots, int capacity, int encoder_capacity) const {
    auto cache = f_->model->NewCache(n_slots, capacity, encoder_capacity);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? std::move(*cache) : nullptr;
  }

  struct Alone {
    at::Tensor encoded, mask;        // [1, T, d], [1, T]
    std::vector<int64_t> ids;        // start token, then kSteps greedy ids
    std::vector<at::Tensor> logits;  // per step [V]
  };
  static T5Fixture* f_;
  static std::vector<Alone> alone_;
  torch::NoGradGuard no_grad_;
};
T5Fixture* T5CacheTest::f_ = nullptr;
std::vector<T5CacheTest::Alone> T5CacheTest::alone_;

// Samples of encoder lengths 57, 79, 60 in slots 4, 1, 3, joining at steps 0, 2, 3; every
// step's batch lists the running rows in an order of its own. Each row equals its sample alone.
TEST_F(T5CacheTest, ContinuousBatchEqualsAlone) {
  auto cache = Cache(6, kSteps, 80);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(cache->Allocate().ok());
  const int slot_of[] = {4, 1, 3};
  const int join_at[] = {0, 2, 3};
  int done[] = {0, 0, 0};  // steps decoded per sample
  for (int step = 0; step < kSteps + 3; ++step) {
    std::vector<int> rows;  // sample indices of this step's batch
    for (int i = 0; i < 3; ++i) {
      if (step == join_at[i]) {
        ASSERT_TRUE(
            f_->model->StartDecoding(alone_[i].encoded, alone_[i].mask, *cache, {slot_of[i]}).ok());
      }
      if (step >= join_at[i] && done[i] < kSteps) rows.push_back(i);
    }
    if (step % 2 == 1) std::reverse(rows.begin(), rows.end());
    if (rows.empty()) continue;
    std::vector<int> slots;
    std::vector<int64_t> ids;
    for (int i : rows) {
      slots.push_back(slot_of[i]);
      ids.push_back(alone_[i].ids[done[i]]);
    }
    at::Tensor logits = Step(*f_->model, at::tensor(ids, at::kLong).unsqueeze(1), *cache, slots);
    ASSERT_TRUE(logits.defined());
    for (size_t r = 0; r < rows.size(); ++r) {
      const int i = rows[r];
      EXPECT_TRUE(MatchesGolden(logits[r], alone_[i].logits[done[i]]))
          << "sample " << i << " step " << done[i] << " batch step " << step;
      ++done[i];
      EXPECT_EQ(cache->length(slot_of[i]), done[i]);
    }
  }
  EXPECT_EQ(cache->encoder_length(1), 79);
  EXPECT_EQ(cache->encoder_length(4), 57);
}

// The three samples right-padded into one encoder batch: valid rows equal the single encoder
// runs, and decoding the batch from StartDecoding on the padded output equals each alone.
TEST_F(T5CacheTest, RightPaddedEncoderBatchEqualsSingle) {
  const int64_t T = 79, d = f_->model->config().d_model;
  at::Tensor embeds = at::zeros({3, T, d}), mask = at::zeros({3, T}, at::kLong);
  for (int i = 0; i < 3; ++i) {
    at::Tensor e = f_->Embeds(kT5Samples[i])[0];
    embeds[i].narrow(0, 0, e.size(0)).copy_(e);
    mask[i].narrow(0, 0, e.size(0)).fill_(1);
  }
  auto encoded = f_->model->Encode(embeds, mask);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  for (int i = 0; i < 3; ++i) {
    const int64_t n = alone_[i].mask.size(1);
    EXPECT_TRUE(MatchesGolden((*encoded)[i].narrow(0, 0, n), alone_[i].encoded[0])) << i;
    EXPECT_TRUE(
        MatchesGolden((*encoded)[i].narrow(0, 0, n),
                      f_->Get(std::string(kT5Samples[i]) + ".second.encoder_last_hidden_state")))
        << i;
  }
  auto cache = Cache(3, kSteps, T);
  std::vector<int> slots = {2, 0, 1};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache->Allocate().ok());
  ASSERT_TRUE(f_->model->StartDecoding(*encoded, mask, *cache, slots).ok());
  for (int t = 0; t < kSteps; ++t) {
    std::vector<int64_t> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(alone_[i].ids[t]);
    at::Tensor logits = Step(*f_->model, at::tensor(ids, at::kLong).unsqueeze(1), *cache, slots);
    ASSERT_TRUE(logits.defined());
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(MatchesGolden(logits[i], alone_[i].logits[t])) << "sample " << i << " step " << t;
    }
  }
}

// Beam search's use: a hypothesis is copied to another slot and the two continue differently;
// each equals the full decoder pass over its own ids.
TEST_F(T5CacheTest, CopySlotThenDiverge) {
  const Alone& a = alone_[0];
  auto cache = Cache(3, kSteps, a.mask.size(1));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache->Allocate().ok());
  ASSERT_TRUE(f_->model->StartDecoding(a.encoded, a.mask, *cache, {2}).ok());
  for (int t = 0; t < 3; ++t) ASSERT_TRUE(Step(*f_->model, Token(a.ids[t]), *cache, {2}).defined());
  ASSERT_TRUE(cache->CopySlot(2, 0).ok());
  EXPECT_EQ(cache->length(0), 3);
  EXPECT_EQ(cache->encoder_length(0), a.mask.size(1));
  const int64_t x = 17, y = 250;
  at::Tensor logits = Step(*f_->model, at::tensor({x, y}, at::kLong).unsqueeze(1), *cache, {2, 0});
  ASSERT_TRUE(logits.defined());
  for (auto [row, token] : {std::pair<int, int64_t>{0, x}, {1, y}}) {
    std::vector<int64_t> ids(a.ids.begin(), a.ids.begin() + 3);
    ids.push_back(token);
    auto full = f_->model->Decode(at::tensor(ids, at::kLong).unsqueeze(0), a.encoded, a.mask);
    ASSERT_TRUE(full.ok()) << full.status();
    EXPECT_TRUE(MatchesGolden(logits[row], (*full)[0][3])) << "token " << token;
  }
  EXPECT_FALSE(MatchesGolden(logits[0], logits[1]));
  EXPECT_EQ(cache->CopySlot(1, 5).code(), absl::StatusCode::kInvalidArgument);
}

// Every refused call leaves the cache as it was: the next valid step still equals the sample
// decoded alone.
TEST_F(T5CacheTest, BadInputsAreInvalidArgumentAndLeaveCacheIntact) {
  const Alone& a = alone_[0];
  const int64_t Te = a.mask.size(1);
  auto cache = Cache(3, 2, Te);
  const int slot = *cache->Allocate();
  ASSERT_TRUE(f_->model->StartDecoding(a.encoded, a.mask, *cache, {slot}).ok());
  ASSERT_TRUE(Step(*f_->model, Token(a.ids[0]), *cache, {slot}).defined());
  auto invalid = [](const absl::Status& s) {
    return s.code() == absl::StatusCode::kInvalidArgument;
  };
  auto step = [&](const at::Tensor& ids, const std::vector<int>& slots) {
    return f_->model->DecodeStep(ids, *cache, slots).status();
  };
  const int other = *cache->Allocate();                                    // in use, never started
  EXPECT_TRUE(invalid(step(at::zeros({1, 2}, at::kLong), {slot})));        // two tokens
  EXPECT_TRUE(invalid(step(at::zeros({1}, at::kLong), {slot})));           // 1-D
  EXPECT_TRUE(invalid(step(at::zeros({1, 1}, at::kFloat), {slot})));       // not ids
  EXPECT_TRUE(invalid(step(Token(384), {slot})));                          // out of vocab
  EXPECT_TRUE(invalid(step(Token(5), {2})));                               // free slot
  EXPECT_TRUE(invalid(step(Token(5), {7})));                               // no such slot
  EXPECT_TRUE(invalid(step(at::zeros({2, 1}, at::kLong), {slot, slot})));  // twice
  EXPECT_TRUE(invalid(step(Token(5), {other})));                           // not started
  EXPECT_TRUE(invalid(step(Token(5), {slot, other})));                     // rows != slots
  // StartDecoding: wrong width, more encoder rows than the cache holds, no real row.
  EXPECT_TRUE(invalid(f_->model->StartDecoding(at::zeros({1, 3, 7}), {}, *cache, {other})));
  EXPECT_TRUE(invalid(f_->model->StartDecoding(at::zeros({1, Te + 1, 48}), {}, *cache, {slot})));
  EXPECT_TRUE(
      invalid(f_->model->StartDecoding(a.encoded, at::zeros({1, Te}, at::kLong), *cache, {slot})));
  EXPECT_TRUE(invalid(f_->model->StartDecoding(a.encoded, a.mask, *cache, {2})));
  EXPECT_EQ(cache->length(slot), 1);
  EXPECT_EQ(cache->encoder_length(slot), Te);
  EXPECT_EQ(cache->encoder_length(other), 0);
  // Encoder and Decode shape errors.
  EXPECT_TRUE(invalid(f_->model->Encode(at::zeros({2, 3}), {}).status()));
  EXPECT_TRUE(invalid(f_->model->Encode(at::zeros({1, 3, 48}), at::ones({1, 4})).status()));
  EXPECT_TRUE(invalid(f_->model->Decode(Token(0), at::zeros({2, 3, 48}), {}).status()));

  at::Tensor logits = Step(*f_->model, Token(a.ids[1]), *cache, {slot});
  ASSERT_TRUE(logits.defined());
  EXPECT_TRUE(MatchesGolden(logits[0], a.logits[1]));
  // Capacity 2 is now used up.
  EXPECT_TRUE(invalid(step(Token(a.ids[2]), {slot})));
  EXPECT_EQ(cache->length(slot), 2);
  EXPECT_TRUE(cache->Release(slot).ok());
  EXPECT_TRUE(invalid(cache->Release(slot)));
  EXPECT_EQ(cache->n_free(), 2);
}

// A plain T5 directory (HF T5ForConditionalGeneration layout, no prefix), written from the
// fixture's weights with the stacks' embed_tokens copies that some exports carry: Load(dir)
// reads it and computes what the BLIP-2 load computes.
TEST_F(T5CacheTest, PlainT5DirectoryLoads) {
  ScratchDir dir("t5_plain");
  auto tensors = f_->model->NamedTensors();
  for (const auto& [name, t] : tensors) {
    if (name == "shared.weight") {
      tensors.emplace_back("encoder.embed_tokens.weight", t);
      tensors.emplace_back("decoder.embed_tokens.weight", t);
      break;
    }
  }
  ASSERT_TRUE(WriteSafetensors(dir.Path("model.safetensors"), tensors).ok());
  auto blip2 = ReadJsonFile(f_->dir + "/config.json");
  ASSERT_TRUE(blip2.ok()) << blip2.status();
  dir.Write("config.json", (*blip2)["text_config"].dump());
  auto model = T5Model::Load(dir.path());
  ASSERT_TRUE(model.ok()) << model.status();
  const Alone& a = alone_[2];
  auto encoded = (*model)->Encode(f_->Embeds("s2"), a.mask);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(at::equal(*encoded, a.encoded));
  auto full = (*model)->Decode(at::tensor(a.ids, at::kLong).narrow(0, 0, kSteps).unsqueeze(0),
                               a.encoded, a.mask);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(MatchesGolden((*full)[0], at::stack(a.logits)));
}

// bfloat16 (the release's GPU dtype): the cached steps follow the full bf16 decoder pass and
// stay near float32.
TEST_F(T5CacheTest, Bfloat16CachedFollowsFullDecode) {
  LlmLoadOptions options;
  options.dtype = at::kBFloat16;
  auto model = T5Model::Load(f_->dir, options);
  ASSERT_TRUE(model.ok()) << model.status();
  const Alone& a = alone_[0];
  auto encoded = (*model)->Encode(f_->Embeds("s0"), a.mask);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->scalar_type(), at::kBFloat16);
  EXPECT_LT(MaxAbsDiff(*encoded, a.encoded), 0.1);
  at::Tensor ids = at::tensor(a.ids, at::kLong).narrow(0, 0, kSteps).unsqueeze(0);
  auto full = (*model)->Decode(ids, *encoded, a.mask);
  ASSERT_TRUE(full.ok()) << full.status();
  auto cache = (*model)->NewCache(1, kSteps, a.mask.size(1));
  ASSERT_TRUE(cache.ok());
  const int slot = *(*cache)->Allocate();
  ASSERT_TRUE((*model)->StartDecoding(*encoded, a.mask, **cache, {slot}).ok());
  for (int t = 0; t < kSteps; ++t) {
    at::Tensor logits = Step(**model, ids.narrow(1, t, 1), **cache, {slot});
    ASSERT_TRUE(logits.defined());
    EXPECT_EQ(logits.scalar_type(), at::kBFloat16);
    const double vs_full = MaxAbsDiff(logits[0], (*full)[0][t]);
    const double vs_float = MaxAbsDiff(logits[0], a.logits[t]);
    std::printf("bf16 step %d: max abs diff %.3g vs full bf16 pass, %.3g vs float32\n", t, vs_full,
                vs_float);
    EXPECT_LT(vs_full, 0.2) << "step " << t;
    EXPECT_LT(vs_float, 0.3) << "step " << t;
  }
}

TEST(T5LoadTest, MissingExtraAndMisshapedTensorsAreNamed) {
  const std::string dir = TestData("models/lingcloud-blip2-tiny/blip2");
  auto ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::string prefix;
  auto config = LoadT5Config(dir, &prefix);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(prefix, "language_model.");

  T5Config more = *config;
  more.n_layers = 3;  // encoder.block.2 is not in the checkpoint
  auto s = T5Model::Load(more, **ckpt, prefix).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("encoder.block.2.layer.0.SelfAttention.q.weight"), std::string::npos)
      << s;

  T5Config fewer = *config;
  fewer.n_decoder_layers = 1;  // decoder.block.1 is extra
  s = T5Model::Load(fewer, **ckpt, prefix).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("decoder.block.1.layer.2.DenseReluDense.wo.weight"), std::string::npos)
      << s;

  T5Config narrow = *config;
  narrow.d_ff = 64;
  s = T5Model::Load(narrow, **ckpt, prefix).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("DenseReluDense.wi_0.weight"), std::string::npos) << s;

  // Without the prefix nothing of T5 is found.
  s = T5Model::Load(*config, **ckpt, "").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("shared.weight"), std::string::npos) << s;
}

TEST(T5ConfigTest, ErrorsNameTheField) {
  auto error = [](const nlohmann::json& j) {
    auto c = ParseT5Config(j);
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_NE(error({{"d_model", "x"}}).find("d_model"), std::string::npos);
  EXPECT_NE(error({{"num_heads", 0}}).find("num_heads"), std::string::npos);
  EXPECT_NE(error({{"feed_forward_proj", "gated-gelu-x"}}).find("feed_forward_proj"),
            std::string::npos);
  EXPECT_NE(error({{"dense_act_fn", "tanh"}}).find("dense_act_fn"), std::string::npos);
  EXPECT_NE(error({{"model_type", "bart"}}).find("model_type"), std::string::npos);
  EXPECT_NE(error({{"tie_word_embeddings", 1}}).find("tie_word_embeddings"), std::string::npos);
  EXPECT_NE(error({{"vocab_size", 10}, {"eos_token_id", 12}}).find("eos_token_id"),
            std::string::npos);

  auto defaults = ParseT5Config(nlohmann::json::object());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->d_model, 512);
  EXPECT_FALSE(defaults->gated);
  EXPECT_EQ(defaults->activation, T5Activation::kRelu);
  EXPECT_TRUE(defaults->tie_word_embeddings);
  auto gated = ParseT5Config({{"feed_forward_proj", "gated-gelu"}, {"num_layers", 3}});
  ASSERT_TRUE(gated.ok());
  EXPECT_TRUE(gated->gated);
  EXPECT_EQ(gated->activation, T5Activation::kGeluTanh);
  EXPECT_EQ(gated->n_decoder_layers, 3);
  auto silu = ParseT5Config({{"feed_forward_proj", "gated-silu"}});
  ASSERT_TRUE(silu.ok());
  EXPECT_EQ(silu->activation, T5Activation::kSilu);
}

// HF's buckets for num_buckets 32, max_distance 128 (t5-small), computed by
// T5Attention._relative_position_bucket for these relative positions.
TEST(T5BucketTest, MatchesHuggingFace) {
  at::Tensor rel =
      at::tensor({-200, -128, -64, -20, -8, -7, -1, 0, 1, 7, 8, 20, 64, 200}, at::kLong);
  at::Tensor bi = T5RelativePositionBucket(rel, /*bidirectional=*/true, 32, 128);
  at::Tensor uni = T5RelativePositionBucket(rel, /*bidirectional=*/false, 32, 128);
  std::vector<int64_t> expect_bi = {15, 15, 14, 10, 8, 7, 1, 0, 17, 23, 24, 26, 30, 31};
  std::vector<int64_t> expect_uni = {31, 31, 26, 17, 8, 7, 1, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(at::equal(bi, at::tensor(expect_bi, at::kLong))) << bi;
  EXPECT_TRUE(at::equal(uni, at::tensor(expect_uni, at::kLong))) << uni;
}

// A random model of another shape (ReLU feed-forward, tied lm_head, 3 encoder and 1 decoder
// blocks, d_model != H * d_kv): the cached steps of a padded batch equal the full decoder pass.
TEST(T5RandomTest, CreateRandomCachedEqualsFull) {
  torch::NoGradGuard no_grad;
  T5Config c;
  c.vocab_size = 100;
  c.d_model = 32;
  c.d_kv = 6;
  c.n_heads = 4;
  c.d_ff = 40;
  c.n_layers = 3;
  c.n_decoder_layers = 1;
  c.num_buckets = 8;
  c.max_distance = 16;
  c.tie_word_embeddings = true;
  auto model = T5Model::CreateRandom(c, {}, 11);
  ASSERT_TRUE(model.ok()) << model.status();
  at::Tensor ids = at::tensor({3, 9, 27, 81, 43, 29, 87, 61}, at::kLong).view({2, 4});
  at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 4});
  auto embeds = (*model)->EmbedTokens(ids);
  ASSERT_TRUE(embeds.ok());
  auto encoded = (*model)->Encode(*embeds, mask);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(at::isfinite(*encoded).all().item<bool>());
  at::Tensor dec = at::tensor({0, 5, 7, 9, 0, 11, 13, 15, 17, 19}, at::kLong).view({2, 5});
  auto full = (*model)->Decode(dec, *encoded, mask);
  ASSERT_TRUE(full.ok()) << full.status();
  auto cache = (*model)->NewCache(2, 5, 4);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE((*cache)->Allocate().ok());
  ASSERT_TRUE((*cache)->Allocate().ok());
  ASSERT_TRUE((*model)->StartDecoding(*encoded, mask, **cache, {1, 0}).ok());
  EXPECT_EQ((*cache)->encoder_length(0), 2);
  for (int64_t t = 0; t < 5; ++t) {
    at::Tensor logits = Step(**model, dec.narrow(1, t, 1), **cache, {1, 0});
    ASSERT_TRUE(logits.defined());
    EXPECT_TRUE(MatchesGolden(logits, (*full).select(1, t))) << "step " << t;
  }
  EXPECT_GT((*cache)->bytes(), 0);
}

}  // namespace
}  // namespace lmeye
