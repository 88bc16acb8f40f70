// The batch-first engine on the lmeye-tiny fixtures: KV reuse equals full recomputation, the
// interaction is live, and ragged batches give the same greedy ids as one request at a time.
#include "model/ipn/decoder_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/verify/golden.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::TestData("models/" + GetParam());
    auto model = LmeyeModel::Load(dir_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto golden = GoldenSet::Open(dir_);
    ASSERT_TRUE(golden.ok()) << golden.status();
    golden_ = std::move(*golden);
    EngineOptions options;
    options.n_slots = 8;
    options.capacity = 64;
    auto engine = DecoderIpnEngine::Create(model_.get(), options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    auto h_i = engine_->EncodeImages(*golden_->Get("pixel_values"));
    ASSERT_TRUE(h_i.ok()) << h_i.status();
    h_i_ = *h_i;
  }

  std::vector<int> Ids(const std::string& name) {
    at::Tensor t = *golden_->Get(name);
    std::vector<int> ids;
    for (int64_t i = 0; i < t.numel(); ++i) ids.push_back(static_cast<int>(t[i].item<int64_t>()));
    return ids;
  }

  // Runs the phases for `seqs` as one batch each.
  void Prefill(const std::vector<IpnSequence*>& seqs) {
    ASSERT_TRUE(engine_->FirstPass(seqs).ok());
    std::vector<IpnSequence*> interactive;
    for (IpnSequence* s : seqs) {
      if (s->interactive()) interactive.push_back(s);
    }
    ASSERT_TRUE(engine_->Interact(interactive).ok());
    ASSERT_TRUE(engine_->SecondPass(interactive).ok());
  }

  // Greedy decoding of a batch through DecodeStep; returns n_steps ids per sequence.
  std::vector<std::vector<int64_t>> Greedy(const std::vector<IpnSequence*>& seqs, int n_steps) {
    std::vector<std::vector<int64_t>> out(seqs.size());
    std::vector<at::Tensor> logits;
    for (IpnSequence* s : seqs) logits.push_back(s->next_logits);
    at::Tensor batch_logits = at::stack(logits);
    for (int step = 0; step < n_steps; ++step) {
      std::vector<int> slots;
      std::vector<int64_t> tokens;
      for (size_t b = 0; b < seqs.size(); ++b) {
        int64_t next = batch_logits[b].argmax().item<int64_t>();
        out[b].push_back(next);
        slots.push_back(seqs[b]->slot);
        tokens.push_back(next);
      }
      if (step + 1 == n_steps) break;
      auto next = engine_->DecodeStep(slots, tokens);
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok()) break;
      batch_logits = *next;
    }
    return out;
  }

  IpnSequence Sample(int s, bool interaction = true) {
    IpnSequence seq;
    seq.h_i = h_i_[s];
    seq.text = Ids("s" + std::to_string(s) + ".input_ids");
    seq.interaction = interaction;
    return seq;
  }

  std::string dir_;
  std::unique_ptr<LmeyeModel> model_;
  std::unique_ptr<GoldenSet> golden_;
  std::unique_ptr<DecoderIpnEngine> engine_;
  at::Tensor h_i_;
};

TEST_P(EngineTest, KvReuseSecondPassEqualsFullRecomputation) {
  for (int s = 0; s < 2; ++s) {
    IpnSequence seq = Sample(s);
    Prefill({&seq});
    ASSERT_EQ(seq.phase, IpnPhase::kReady);
    // Full recomputation: one Forward over [h_img, E[X], slot], no cache.
    torch::NoGradGuard no_grad;
    at::Tensor h_img = *model_->ImageToken(seq.h_i.unsqueeze(0));
    at::Tensor e_x = *model_->llm().EmbedTokens(
        at::tensor(std::vector<int64_t>(seq.text.begin(), seq.text.end()), at::kLong)
            .view({1, -1}));
    at::Tensor full =
        at::cat({h_img.unsqueeze(1), e_x, model_->Slot(seq.h_d.unsqueeze(0)).unsqueeze(1)}, 1);
    LlmInput input;
    input.inputs_embeds = full;
    auto out = model_->llm().Forward(input);
    ASSERT_TRUE(out.ok());
    at::Tensor full_last = out->logits[0][-1];
    EXPECT_TRUE(testing::MatchesGolden(seq.next_logits, full_last));
    at::Tensor golden_last = (*golden_->Get("s" + std::to_string(s) + ".second_pass.logits"))[-1];
    EXPECT_TRUE(testing::MatchesGolden(seq.next_logits, golden_last));
    engine_->Release(seq);
  }
}

TEST_P(EngineTest, GreedyIdsMatchGoldensInBothModes) {
  for (int s = 0; s < 2; ++s) {
    for (bool interaction : {true, false}) {
      IpnSequence seq = Sample(s, interaction);
      Prefill({&seq});
      auto ids = Greedy({&seq}, 8)[0];
      std::string name =
          "s" + std::to_string(s) + (interaction ? ".generate.ids" : ".static.generate.ids");
      at::Tensor expected = *golden_->Get(name);
      EXPECT_TRUE(at::equal(at::tensor(ids, at::kLong), expected)) << name;
      engine_->Release(seq);
    }
  }
  EXPECT_EQ(engine_->free_slots(), 8);
}

TEST_P(EngineTest, InteractionIsLive) {
  IpnSequence a = Sample(0), b = Sample(0);
  b.text = Ids("s1.input_ids");  // same image, another question
  Prefill({&a, &b});
  EXPECT_GT((a.h_d - b.h_d).abs().max().item<double>(), 1e-3);
  // And the image matters too: same question, other image.
  IpnSequence c = Sample(0);
  c.h_i = h_i_[1];
  Prefill({&c});
  EXPECT_GT((a.h_d - c.h_d).abs().max().item<double>(), 1e-3);
}

TEST_P(EngineTest, RaggedBatchEqualsOneAtATime) {
  // Six requests of different lengths, interactive and IPN*, with and without a prefix.
  auto make = [&](int image, std::vector<int> text, bool interaction, std::vector<int> prefix) {
    IpnSequence s;
    s.h_i = h_i_[image];
    s.text = std::move(text);
    s.interaction = interaction;
    s.prefix = std::move(prefix);
    return s;
  };
  std::vector<IpnSequence> singles = {
      make(0, Ids("s0.input_ids"), true, {}),
      make(1, Ids("s1.input_ids"), true, {}),
      make(1, {5, 17, 300, 42, 8, 9, 10, 11, 12, 13, 14}, true, {2}),
      make(0, {7}, true, {}),
      make(0, {33, 44, 55}, false, {2}),
      make(1, Ids("s0.input_ids"), false, {}),
  };
  std::vector<IpnSequence> batch = singles;
  std::vector<std::vector<int64_t>> single_ids;
  std::vector<at::Tensor> single_logits;
  for (IpnSequence& s : singles) {
    Prefill({&s});
    single_logits.push_back(s.next_logits);
    single_ids.push_back(Greedy({&s}, 6)[0]);
    engine_->Release(s);
  }
  std::vector<IpnSequence*> ptrs;
  for (IpnSequence& s : batch) ptrs.push_back(&s);
  Prefill(ptrs);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_TRUE(testing::MatchesGolden(batch[i].next_logits, single_logits[i])) << i;
  }
  auto batch_ids = Greedy(ptrs, 6);
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch_ids[i], single_ids[i]) << i;
}

TEST_P(EngineTest, TextOnlySequenceEqualsTheLlmAloneAndBatchesWithImages) {
  // A chat turn without an image: [E[P], E[X]] -> logits, as the plain LLM over the ids.
  IpnSequence text_only;
  text_only.has_image = false;
  text_only.prefix = {2};
  text_only.text = Ids("s1.input_ids");
  EXPECT_EQ(text_only.prompt_positions(), static_cast<int>(text_only.text.size()) + 1);
  IpnSequence with_image = Sample(0);
  Prefill({&text_only, &with_image});
  ASSERT_EQ(text_only.phase, IpnPhase::kReady);
  ASSERT_EQ(with_image.phase, IpnPhase::kReady);
  std::vector<int64_t> ids = {2};
  ids.insert(ids.end(), text_only.text.begin(), text_only.text.end());
  LlmInput input;
  input.input_ids = at::tensor(ids, at::kLong).view({1, -1});
  torch::NoGradGuard no_grad;
  auto out = model_->llm().Forward(input);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(testing::MatchesGolden(text_only.next_logits, out->logits[0][-1]));
  EXPECT_EQ(engine_->cache().length(text_only.slot), static_cast<int>(ids.size()));
  engine_->Release(text_only);
  engine_->Release(with_image);
  IpnSequence empty;
  empty.has_image = false;
  EXPECT_EQ(engine_->FirstPass({&empty}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->free_slots(), 8);
}

TEST_P(EngineTest, CachedPrefixComputesOnlyTheRestAndChangesNothing) {
  for (bool interaction : {true, false}) {
    IpnSequence full = Sample(0, interaction);
    Prefill({&full});
    // A later request whose prompt extends the first one's: reuse [h_img, X] of the first.
    IpnSequence longer = Sample(0, interaction);
    longer.text.insert(longer.text.end(), {11, 12, 13});
    IpnSequence reference = longer;
    const int shared = 1 + static_cast<int>(full.text.size());
    auto slot = engine_->cache().Allocate();
    ASSERT_TRUE(slot.ok());
    ASSERT_TRUE(engine_->cache().CopySlot(full.slot, *slot).ok());
    ASSERT_TRUE(engine_->cache().Truncate(*slot, shared).ok());
    longer.slot = *slot;
    longer.cached_positions = shared;
    Prefill({&longer, &reference});
    EXPECT_EQ(engine_->cache().length(longer.slot), engine_->cache().length(reference.slot));
    EXPECT_TRUE(testing::MatchesGolden(longer.next_logits, reference.next_logits));
    EXPECT_EQ(Greedy({&longer}, 6)[0], Greedy({&reference}, 6)[0]);
    engine_->Release(full);
    engine_->Release(longer);
    engine_->Release(reference);
  }
  // A given slot must hold exactly cached_positions, and leave something to compute.
  IpnSequence bad = Sample(0, false);
  bad.slot = *engine_->cache().Allocate();
  bad.cached_positions = bad.prompt_positions();
  EXPECT_EQ(engine_->FirstPass({&bad}).code(), absl::StatusCode::kInvalidArgument);
  engine_->Release(bad);
  EXPECT_EQ(engine_->free_slots(), 8);
}

TEST_P(EngineTest, NotEnoughSlotsChangesNothing) {
  std::vector<IpnSequence> seqs(9, Sample(0));
  std::vector<IpnSequence*> ptrs;
  for (IpnSequence& s : seqs) ptrs.push_back(&s);
  absl::Status status = engine_->FirstPass(ptrs);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine_->free_slots(), 8);
  for (const IpnSequence& s : seqs) {
    EXPECT_EQ(s.phase, IpnPhase::kNew);
    EXPECT_EQ(s.slot, -1);
  }
}

TEST_P(EngineTest, PromptLongerThanTheSlotIsRejected) {
  IpnSequence seq = Sample(0);
  seq.text.assign(80, 5);
  EXPECT_EQ(engine_->FirstPass({&seq}).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine_->free_slots(), 8);
}

TEST_P(EngineTest, PhasesAreEnforced) {
  IpnSequence seq = Sample(0);
  EXPECT_EQ(engine_->Interact({&seq}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_->SecondPass({&seq}).code(), absl::StatusCode::kFailedPrecondition);
  IpnSequence bad = Sample(0);
  bad.h_i = at::zeros({3});
  EXPECT_EQ(engine_->FirstPass({&bad}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->free_slots(), 8);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EngineTest,
                         ::testing::Values("lmeye-tiny-opt", "lmeye-tiny-llama"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace lmeye
