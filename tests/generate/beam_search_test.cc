// Beam search on the tiny fixture LLMs: num_beams = 1 gives greedy's tokens; the KV-cached
// search equals a reference that recomputes every beam with full Forward passes (no cache, no
// slot shuffling) and follows HF BeamSearchScorer step by step; more beams never score below
// greedy's sequence; slots are given back; searches stepped as rows of one shared batched step
// give their tokens alone.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/generate/beam_search.h"
#include "model/llm/greedy.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

std::vector<int64_t> Prompt(int length, int salt) {
  std::vector<int64_t> ids;
  for (int i = 0; i < length; ++i) ids.push_back(5 + (i * 53 + salt * 97) % 900);
  return ids;
}

LlmInput Ids(const std::vector<int64_t>& ids) {
  LlmInput in;
  in.input_ids = at::tensor(ids, at::kLong).unsqueeze(0);
  return in;
}

// Next-token log-softmax after each of `seqs` (same length), by a full forward: [n, V] float.
at::Tensor FullLogprobs(const LlmModel& model, const std::vector<std::vector<int64_t>>& seqs) {
  std::vector<at::Tensor> rows;
  for (const auto& s : seqs) rows.push_back(at::tensor(s, at::kLong));
  LlmInput in;
  in.input_ids = at::stack(rows);
  auto out = model.Forward(in);
  EXPECT_TRUE(out.ok()) << out.status();
  return out->logits.select(1, in.input_ids.size(1) - 1).to(at::kFloat).log_softmax(-1);
}

// HF beam search written plainly over full sequences (prompt included), no KV cache.
struct RefHyp {
  std::vector<int64_t> seq;
  double score;
};

std::vector<RefHyp> ReferenceBeamSearch(const LlmModel& model, const std::vector<int64_t>& prompt,
                                        const BeamSearchParams& p) {
  const int nb = p.num_beams;
  std::vector<std::vector<int64_t>> beams = {prompt};
  std::vector<float> beam_scores = {0.0f};
  std::vector<RefHyp> hyps;
  double worst = 1e9;
  auto add = [&](std::vector<int64_t> seq, double sum) {
    const double score = sum / std::pow(static_cast<double>(seq.size()), p.length_penalty);
    if (static_cast<int>(hyps.size()) < nb || score > worst) {
      hyps.push_back({seq, score});
      if (static_cast<int>(hyps.size()) > nb) {
        auto w = std::min_element(hyps.begin(), hyps.end(),
                                  [](auto& a, auto& b) { return a.score < b.score; });
        hyps.erase(w);
        worst = std::min_element(hyps.begin(), hyps.end(), [](auto& a, auto& b) {
                  return a.score < b.score;
                })->score;
      } else {
        worst = std::min(worst, score);
      }
    }
  };
  auto eos = [&](int64_t t) {
    return std::find(p.eos_token_ids.begin(), p.eos_token_ids.end(), t) != p.eos_token_ids.end();
  };
  bool done = false;
  std::vector<float> next_scores;
  for (int step = 0; step < p.max_new_tokens; ++step) {
    at::Tensor lp = FullLogprobs(model, beams) + at::tensor(beam_scores).unsqueeze(1);
    const int64_t vocab = lp.size(1);
    const int k = std::max<int>(2, 1 + p.eos_token_ids.size()) * nb;
    auto top = lp.reshape({-1}).topk(k);
    std::vector<std::vector<int64_t>> next;
    next_scores.clear();
    for (int r = 0; r < k && static_cast<int>(next.size()) < nb; ++r) {
      const int64_t flat = std::get<1>(top)[r].item<int64_t>();
      const float s = std::get<0>(top)[r].item<float>();
      const auto& parent = beams[flat / vocab];
      if (eos(flat % vocab)) {
        if (r < nb) add(parent, s);
        continue;
      }
      next.push_back(parent);
      next.back().push_back(flat % vocab);
      next_scores.push_back(s);
    }
    const int cur_len = static_cast<int>(beams[0].size());
    const float best = std::get<0>(top)[0].item<float>();
    done = static_cast<int>(hyps.size()) >= nb &&
           worst >= best / std::pow(static_cast<double>(cur_len), p.length_penalty);
    beams = next;
    beam_scores = next_scores;
    if (done) break;
  }
  if (!done) {
    for (int j = 0; j < nb; ++j) add(beams[j], next_scores[j]);
  }
  std::stable_sort(hyps.begin(), hyps.end(), [](auto& a, auto& b) { return a.score > b.score; });
  return hyps;
}

class GenerateBeamSearchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto model = LlmModel::Load(TestData("models/" + GetParam()));
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }
  std::unique_ptr<LlmModel> model_;
};

TEST_P(GenerateBeamSearchTest, OneBeamIsGreedy) {
  for (int salt = 0; salt < 4; ++salt) {
    std::vector<int64_t> prompt = Prompt(3 + 2 * salt, salt);
    BeamSearchParams p;
    p.num_beams = 1;
    p.max_new_tokens = 10;
    p.eos_token_ids = model_->config().eos_token_ids;
    auto beam = BeamSearch(*model_, Ids(prompt), p);
    ASSERT_TRUE(beam.ok()) << beam.status();
    GreedyOptions g;
    g.max_new_tokens = 10;
    g.eos_token_ids = p.eos_token_ids;
    auto greedy = GreedyGenerate(*model_, Ids(prompt), g);
    ASSERT_TRUE(greedy.ok());
    std::vector<int64_t> expected(greedy->tokens.data_ptr<int64_t>(),
                                  greedy->tokens.data_ptr<int64_t>() + greedy->tokens.numel());
    const BeamHypothesis& best = beam->hypotheses.at(0);
    std::vector<int64_t> got = best.tokens;
    if (best.ended_with_eos) got.push_back(p.eos_token_ids[0]);
    EXPECT_EQ(got, expected) << "salt " << salt;
  }
}

TEST_P(GenerateBeamSearchTest, EqualsFullForwardReference) {
  struct Case {
    int num_beams;
    double length_penalty;
    int max_new_tokens;
    bool eos;
  };
  // A frequent token as a fake EOS makes hypotheses finish early and exercises the n-best list.
  int n_eos_hyps = 0, n_early = 0;
  for (const Case& c : {Case{3, 1.0, 6, false}, Case{5, 1.0, 6, true}, Case{4, 2.0, 5, true},
                        Case{5, -0.5, 5, true}, Case{2, 0.0, 7, true}}) {
    for (int salt = 0; salt < 2; ++salt) {
      std::vector<int64_t> prompt = Prompt(4 + salt * 3, salt + 10);
      BeamSearchParams p;
      p.num_beams = c.num_beams;
      p.length_penalty = c.length_penalty;
      p.max_new_tokens = c.max_new_tokens;
      p.num_return_sequences = c.num_beams;
      if (c.eos) {
        // The greedy second token: certain to be among the candidates early on.
        GreedyOptions g;
        g.max_new_tokens = 2;
        auto greedy = GreedyGenerate(*model_, Ids(prompt), g);
        ASSERT_TRUE(greedy.ok());
        p.eos_token_ids = {greedy->tokens[0][1].item<int64_t>(), model_->config().eos_token_ids[0]};
      }
      auto got = BeamSearch(*model_, Ids(prompt), p);
      ASSERT_TRUE(got.ok()) << got.status();
      std::vector<RefHyp> ref = ReferenceBeamSearch(*model_, prompt, p);
      ASSERT_EQ(got->hypotheses.size(), static_cast<size_t>(c.num_beams));
      if (got->n_steps < c.max_new_tokens) ++n_early;
      for (int i = 0; i < c.num_beams; ++i) {
        const BeamHypothesis& h = got->hypotheses[i];
        n_eos_hyps += h.ended_with_eos;
        std::vector<int64_t> seq = prompt;
        seq.insert(seq.end(), h.tokens.begin(), h.tokens.end());
        EXPECT_EQ(seq, ref[i].seq) << "beams " << c.num_beams << " lp " << c.length_penalty
                                   << " salt " << salt << " rank " << i;
        EXPECT_NEAR(h.score, ref[i].score, 1e-4);
        EXPECT_NEAR(h.sum_logprobs,
                    h.score * std::pow(static_cast<double>(seq.size()), c.length_penalty), 1e-4);
      }
    }
  }
  // The cases above exercise finished hypotheses and the early stop.
  EXPECT_GT(n_eos_hyps, 0);
  std::printf("%s: %d hypotheses ended with EOS, %d searches stopped early\n", GetParam().c_str(),
              n_eos_hyps, n_early);
}

// Sum of log-probabilities of `tokens` after `prompt`, by full forwards.
double SequenceLogprob(const LlmModel& model, const std::vector<int64_t>& prompt,
                       const std::vector<int64_t>& tokens) {
  std::vector<int64_t> seq = prompt;
  double sum = 0;
  for (int64_t t : tokens) {
    sum += FullLogprobs(model, {seq})[0][t].item<double>();
    seq.push_back(t);
  }
  return sum;
}

TEST_P(GenerateBeamSearchTest, MoreBeamsScoreAtLeastGreedy) {
  for (int salt = 0; salt < 3; ++salt) {
    std::vector<int64_t> prompt = Prompt(5, salt + 20);
    const int n_new = 6;
    GreedyOptions g;
    g.max_new_tokens = n_new;
    auto greedy = GreedyGenerate(*model_, Ids(prompt), g);
    ASSERT_TRUE(greedy.ok());
    std::vector<int64_t> greedy_tokens(greedy->tokens.data_ptr<int64_t>(),
                                       greedy->tokens.data_ptr<int64_t>() + n_new);
    const double greedy_score = SequenceLogprob(*model_, prompt, greedy_tokens) /
                                static_cast<double>(prompt.size() + n_new);
    for (int beams : {2, 5}) {
      BeamSearchParams p;
      p.num_beams = beams;
      p.max_new_tokens = n_new;
      auto r = BeamSearch(*model_, Ids(prompt), p);
      ASSERT_TRUE(r.ok()) << r.status();
      const BeamHypothesis& best = r->hypotheses[0];
      EXPECT_GE(best.score, greedy_score - 1e-5) << beams << " beams, salt " << salt;
      std::printf("%s salt %d: %d beams score %.4f, greedy %.4f\n", GetParam().c_str(), salt, beams,
                  best.score, greedy_score);
      // The reported score is the sequence's true likelihood.
      EXPECT_NEAR(best.sum_logprobs, SequenceLogprob(*model_, prompt, best.tokens), 1e-4);
    }
  }
}

// A prompt given as embeddings (the IPN's case) searches the same as the same prompt as ids.
TEST_P(GenerateBeamSearchTest, EmbeddingsPromptEqualsIdsPrompt) {
  std::vector<int64_t> prompt = Prompt(5, 4);
  BeamSearchParams p;
  p.num_beams = 4;
  p.max_new_tokens = 6;
  p.eos_token_ids = model_->config().eos_token_ids;
  auto ids = BeamSearch(*model_, Ids(prompt), p);
  ASSERT_TRUE(ids.ok()) << ids.status();
  LlmInput embeds;
  auto e = model_->EmbedTokens(Ids(prompt).input_ids);
  ASSERT_TRUE(e.ok());
  embeds.inputs_embeds = *e;
  auto emb = BeamSearch(*model_, embeds, p);
  ASSERT_TRUE(emb.ok()) << emb.status();
  EXPECT_EQ(ids->hypotheses[0].tokens, emb->hypotheses[0].tokens);
  EXPECT_NEAR(ids->hypotheses[0].score, emb->hypotheses[0].score, 1e-5);
}

TEST_P(GenerateBeamSearchTest, SharedCacheSlotsAreReturned) {
  std::vector<int64_t> prompt = Prompt(6, 3);
  auto cache = model_->NewCache(8, 32);
  ASSERT_TRUE(cache.ok());
  const int other = (*cache)->Allocate().value();  // someone else's sequence, untouched
  const int slot = (*cache)->Allocate().value();
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  auto out = model_->Step(Ids(prompt), **cache, {slot}, last);
  ASSERT_TRUE(out.ok());
  BeamSearchParams p;
  p.num_beams = 5;
  p.max_new_tokens = 8;
  auto a = BeamSearch(*model_, **cache, slot, out->logits[0], p);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*cache)->n_free(), 6);
  EXPECT_EQ((*cache)->length(slot), 6);
  EXPECT_TRUE((*cache)->in_use(other));
  // The prompt slot still holds the prompt: a second search gives the same answer.
  auto b = BeamSearch(*model_, **cache, slot, out->logits[0], p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->hypotheses[0].tokens, b->hypotheses[0].tokens);
  // Not enough free slots, or too little capacity: clear errors, nothing leaked.
  p.num_beams = 8;
  p.num_return_sequences = 1;
  EXPECT_EQ(BeamSearch(*model_, **cache, slot, out->logits[0], p).status().code(),
            absl::StatusCode::kResourceExhausted);
  p.num_beams = 2;
  p.max_new_tokens = 40;
  EXPECT_EQ(BeamSearch(*model_, **cache, slot, out->logits[0], p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*cache)->n_free(), 6);
}

// A server steps its beam searches as rows of one batched step with other sequences
// (Advance, the step, SetStepLogits): each search gives the tokens it gives alone.
TEST_P(GenerateBeamSearchTest, SearchesAsRowsOfOneSharedStepEqualEachAlone) {
  auto cache = model_->NewCache(12, 40);
  ASSERT_TRUE(cache.ok());
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  // Two prompts and an unrelated sequence decoding its greedy tokens alongside.
  std::vector<int> prompt_slots;
  std::vector<at::Tensor> prompt_logits;
  for (int salt : {1, 2, 3}) {
    const int slot = (*cache)->Allocate().value();
    auto out = model_->Step(Ids(Prompt(4 + salt, salt)), **cache, {slot}, last);
    ASSERT_TRUE(out.ok()) << out.status();
    prompt_slots.push_back(slot);
    prompt_logits.push_back(out->logits[0]);
  }
  std::vector<BeamSearchParams> params(2);
  params[0].num_beams = 5;
  params[0].max_new_tokens = 9;
  params[0].eos_token_ids = model_->config().eos_token_ids;
  params[1].num_beams = 3;
  params[1].max_new_tokens = 6;
  params[1].length_penalty = 0.5;
  std::vector<BeamSearchResult> alone;
  for (int i = 0; i < 2; ++i) {
    auto result = BeamSearch(*model_, **cache, prompt_slots[i], prompt_logits[i], params[i]);
    ASSERT_TRUE(result.ok()) << result.status();
    alone.push_back(*result);
  }
  std::vector<std::unique_ptr<BeamSearchRun>> runs;
  for (int i = 0; i < 2; ++i) {
    auto run = BeamSearchRun::Start(*model_, **cache, prompt_slots[i], prompt_logits[i], params[i]);
    ASSERT_TRUE(run.ok()) << run.status();
    runs.push_back(*std::move(run));
  }
  const int other = prompt_slots[2];
  int64_t other_token = prompt_logits[2].argmax().item<int64_t>();
  std::vector<bool> finished(2, false);
  while (!finished[0] || !finished[1]) {
    struct Row {
      int run;  // -1: the other sequence
      int slot;
      int64_t token;
    };
    std::vector<Row> rows = {{-1, other, other_token}};
    for (int i = 0; i < 2; ++i) {
      if (finished[i]) continue;
      auto done = runs[i]->Advance();
      ASSERT_TRUE(done.ok()) << done.status();
      finished[i] = *done;
      if (finished[i]) continue;
      EXPECT_EQ(runs[i]->Advance().status().code(), absl::StatusCode::kFailedPrecondition);
      for (size_t r = 0; r < runs[i]->step_slots().size(); ++r) {
        rows.push_back({i, runs[i]->step_slots()[r], runs[i]->step_tokens()[r]});
      }
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.slot < b.slot; });
    std::vector<int> slots;
    std::vector<int64_t> tokens;
    for (const Row& row : rows) {
      slots.push_back(row.slot);
      tokens.push_back(row.token);
    }
    LlmInput in;
    in.input_ids = at::tensor(tokens, at::kLong).unsqueeze(1);
    auto out = model_->Step(in, **cache, slots, last);
    ASSERT_TRUE(out.ok()) << out.status();
    for (int i = 0; i < 2; ++i) {
      std::vector<int64_t> mine;
      for (size_t r = 0; r < rows.size(); ++r) {
        if (rows[r].run == i) mine.push_back(static_cast<int64_t>(r));
      }
      if (mine.empty()) continue;
      ASSERT_TRUE(runs[i]->SetStepLogits(out->logits.index_select(0, at::tensor(mine))).ok());
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].run < 0) other_token = out->logits[r].argmax().item<int64_t>();
    }
  }
  for (int i = 0; i < 2; ++i) {
    const BeamSearchResult batched = runs[i]->Result();
    ASSERT_EQ(batched.hypotheses.size(), alone[i].hypotheses.size());
    for (size_t h = 0; h < batched.hypotheses.size(); ++h) {
      EXPECT_EQ(batched.hypotheses[h].tokens, alone[i].hypotheses[h].tokens) << i << " " << h;
      EXPECT_NEAR(batched.hypotheses[h].score, alone[i].hypotheses[h].score, 1e-4);
    }
    EXPECT_EQ(batched.n_steps, alone[i].n_steps);
  }
  runs.clear();
  EXPECT_EQ((*cache)->n_free(), 9);
}

// bfloat16 models: logits are widened to float32 before scoring; one beam still equals greedy.
TEST(GenerateBeamSearchBf16Test, OneBeamIsGreedy) {
  LlmLoadOptions options;
  options.dtype = at::kBFloat16;
  auto model = LlmModel::Load(TestData("models/llama-tiny"), options);
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<int64_t> prompt = Prompt(6, 5);
  BeamSearchParams p;
  p.num_beams = 1;
  p.max_new_tokens = 8;
  auto beam = BeamSearch(**model, Ids(prompt), p);
  ASSERT_TRUE(beam.ok()) << beam.status();
  GreedyOptions g;
  g.max_new_tokens = 8;
  auto greedy = GreedyGenerate(**model, Ids(prompt), g);
  ASSERT_TRUE(greedy.ok());
  std::vector<int64_t> expected(greedy->tokens.data_ptr<int64_t>(),
                                greedy->tokens.data_ptr<int64_t>() + greedy->tokens.numel());
  EXPECT_EQ(beam->hypotheses[0].tokens, expected);
  p.num_beams = 5;
  EXPECT_TRUE(BeamSearch(**model, Ids(prompt), p).ok());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GenerateBeamSearchTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
