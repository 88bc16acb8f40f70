// Goldens of the released LMEye v0 layout (tests/data/models/lingcloud-v0-tiny-*,
// docs/LINGCLOUD.md) for a model directory `lmeye import lingcloud` made from the fixture's files:
// every intermediate of each sample, then the serving path itself (IpnEngine's first pass up to the
// first <img-d>, interaction, second pass from it on the reused cache, greedy and beam 5 from the
// cache), and the alternative readings of embedding_img (alt_intended.*) and of the first pass's
// state (alt_prenorm.*: before the final norm).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/ipn/engine.h"
#include "model/ipn/lmeye_model.h"
#include "model/verify/engine_decoding.h"
#include "model/verify/golden.h"

namespace lmeye {
namespace {

// The v0 prompt `ids` laid out for the engine: P before <img>, X up to the first <img-d>, the
// rest as the tail with each <img-d> a slot position.
absl::StatusOr<IpnSequence> SequenceOf(const at::Tensor& ids, const LingcloudV0Config& v0) {
  std::vector<int64_t> all(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  IpnSequence seq;
  size_t i = 0;
  for (; i < all.size() && all[i] != v0.img_token_id; ++i)
    seq.prefix.push_back(static_cast<int>(all[i]));
  if (i == all.size()) return absl::InvalidArgumentError("input_ids hold no <img>");
  for (++i; i < all.size() && all[i] != v0.imgd_token_id; ++i) {
    seq.text.push_back(static_cast<int>(all[i]));
  }
  for (; i < all.size(); ++i) {
    seq.tail.push_back(all[i] == v0.imgd_token_id ? kSlotPosition : static_cast<int>(all[i]));
  }
  if (seq.tail.empty()) return absl::InvalidArgumentError("input_ids hold no <img-d>");
  return seq;
}

// The full single-pass input of the reference: E[ids], the <img> row replaced by `img_row` and
// the k-th <img-d> row by imgd_rows[k] (both already include E of their token).
absl::StatusOr<at::Tensor> PromptRows(const LlmModel& llm, const at::Tensor& ids,
                                      const LingcloudV0Config& v0, const at::Tensor& img_row,
                                      const at::Tensor& imgd_rows) {
  LMEYE_ASSIGN_OR_RETURN(at::Tensor embedded, llm.EmbedTokens(ids.view({1, -1})));
  at::Tensor rows = embedded[0].clone();
  int64_t k = 0;
  for (int64_t t = 0; t < ids.numel(); ++t) {
    const int64_t id = ids[t].item<int64_t>();
    if (id == v0.img_token_id) rows[t].copy_(img_row);
    if (id == v0.imgd_token_id) rows[t].copy_(imgd_rows[k++]);
  }
  return rows;
}

class LingcloudV0GoldenRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "lingcloud-v0"; }

  bool Handles(const GoldenSet& golden) const override {
    auto layout = golden.spec().find("layout");
    return layout != golden.spec().end() && layout->is_string() &&
           absl::StartsWith(layout->get<std::string>(), "LingCloud LMEye v0") &&
           !absl::StartsWith(layout->get<std::string>(), "LingCloud LMEye v0.1");
  }

  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet& golden,
                                                     const at::Device& device) const override {
    LmeyeLoadOptions load;
    load.device = device;
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LmeyeModel> model,
                           LmeyeModel::Load(golden.model_dir(), load));
    const LingcloudV0Ipn* v0 = model->lingcloud_v0();
    if (v0 == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(golden.model_dir(),
                       " is not a lingcloud-v0 model directory (adapter.json layout); "
                       "make one with lmeye import lingcloud"));
    }
    // The goldens' readings of the release on the same weights: the primary one (the first pass
    // read after the final norm), the stored embedding_img (alt_intended), and the first pass
    // read before the final norm (alt_prenorm).
    auto variant = [&](const std::string& embedding_img_from, const std::string& first_pass_hidden)
        -> absl::StatusOr<std::unique_ptr<LingcloudV0Ipn>> {
      LingcloudV0Config config = v0->options();
      config.embedding_img_from = embedding_img_from;
      config.first_pass_hidden = first_pass_hidden;
      return LingcloudV0Ipn::Create(v0->holder(), &model->text(), &model->llm(), config);
    };
    const std::string release_img = v0->options().embedding_img_from;
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LingcloudV0Ipn> primary,
                           variant(release_img, "final_norm"));
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LingcloudV0Ipn> intended,
                           variant("embedding_img", "final_norm"));
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LingcloudV0Ipn> prenorm,
                           variant(release_img, "pre_norm"));
    return GuardTorch(
        "recomputing LingCloud v0 goldens", [&]() -> absl::StatusOr<std::vector<GoldenCheck>> {
          std::vector<GoldenCheck> checks;
          auto add = [&](const std::string& name, at::Tensor value, bool exact = false) {
            if (golden.Contains(name)) checks.push_back({name, value.detach().cpu(), {}, exact});
          };
          const LlmModel& llm = model->llm();
          const LingcloudV0Config& config = v0->options();
          add("ipn.effective.embedding_img", v0->EffectiveEmbeddingImg().view({-1}));
          add("ipn.stored.embedding_img", v0->adapter().embedding_img.view({-1}));
          for (int s = 0;; ++s) {
            const std::string p = absl::StrCat("s", s, ".");
            if (!golden.Contains(p + "input_ids")) break;
            LMEYE_ASSIGN_OR_RETURN(at::Tensor ids, golden.Get(p + "input_ids"));
            ids = ids.to(at::kLong).contiguous();
            LMEYE_ASSIGN_OR_RETURN(at::Tensor pixels, golden.Get(p + "pixel_values"));
            LMEYE_ASSIGN_OR_RETURN(ClipVisionOutput vis,
                                   model->vision().Forward(pixels.unsqueeze(0)));
            add(p + "vision.pooler_output", vis.pooler_output[0]);
            const at::Tensor feat = vis.image_embeds;  // [1, clip]
            add(p + "clip_img_feat", feat[0]);
            add(p + "img_prompt", v0->adapter().imgLinear(feat)[0]);
            if (golden.Contains(p + "clip_input_ids")) {
              LMEYE_ASSIGN_OR_RETURN(at::Tensor clip_ids, golden.Get(p + "clip_input_ids"));
              LMEYE_ASSIGN_OR_RETURN(at::Tensor tokens,
                                     model->text().TokenEmbeddings(clip_ids.to(at::kLong)));
              add(p + "clip_base_embeds",
                  tokens + model->text().PositionEmbeddings().narrow(0, 0, clip_ids.numel()));
            }

            // The reference's single full first pass: the state at every <img-d>.
            for (const auto& [alt, ipn] :
                 {std::pair<std::string, const LingcloudV0Ipn*>{"", primary.get()},
                  {"alt_intended.", intended.get()},
                  {"alt_prenorm.", prenorm.get()}}) {
              LMEYE_ASSIGN_OR_RETURN(at::Tensor img_row, ipn->ImagePosition(feat));
              LMEYE_ASSIGN_OR_RETURN(at::Tensor imgd_row, ipn->FirstPassSlot());
              const int64_t q = ipn->query_len();
              LMEYE_ASSIGN_OR_RETURN(at::Tensor first, PromptRows(llm, ids, config, img_row[0],
                                                                  imgd_row.expand({q, -1})));
              add(p + alt + "first_pass.inputs_embeds", first);
              LlmInput first_in;
              first_in.inputs_embeds = first.unsqueeze(0);
              LlmOutputOptions no_logits;
              no_logits.logits = LogitsAt::kNone;
              no_logits.pre_norm = ipn->options().first_pass_pre_norm();
              LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(first_in, no_logits));
              const at::Tensor& states =
                  no_logits.pre_norm ? out.pre_norm_hidden : out.last_hidden_state;
              at::Tensor imgd_hidden =
                  states[0].index({ids.eq(config.imgd_token_id).nonzero().view({-1})});  // [Q, d_L]
              add(p + alt + "first_pass.imgd_hidden", imgd_hidden);
              LingcloudV0Trace trace;
              LMEYE_ASSIGN_OR_RETURN(at::Tensor slot_rows,
                                     ipn->Interact(feat, imgd_hidden.narrow(0, 0, 1), &trace));
              add(p + alt + "imgd_prompt", trace.imgd_prompt[0]);
              add(p + alt + "pre_query.hidden", imgd_hidden[0]);
              if (alt.empty()) {
                add(p + "pre_query", trace.pre_query[0]);
                add(p + "clip_soft_prompt", trace.soft_prompt[0]);
                add(p + "clip_hidden_states", trace.clip_input[0]);
                add(p + "clip_last_hidden_state", trace.clip_last_hidden[0]);
                add(p + "clip_pooled_output", trace.clip_pooled[0]);
                add(p + "clip_text_feature", trace.clip_text_feature[0]);
              }
              LMEYE_ASSIGN_OR_RETURN(at::Tensor final_rows,
                                     PromptRows(llm, ids, config, img_row[0], slot_rows[0]));
              if (alt.empty()) add(p + "inputs_embeds", final_rows);
              LlmInput final_in;
              final_in.inputs_embeds = final_rows.unsqueeze(0);
              LlmOutputOptions last;
              last.logits = LogitsAt::kLast;
              LMEYE_ASSIGN_OR_RETURN(LlmOutput final_out, llm.Forward(final_in, last));
              add(p + alt + "logits_last", final_out.logits[0]);
              if (!alt.empty() && golden.Contains(p + alt + "generate.ids")) {
                // Greedy by full recomputation: independent of the KV cache the main path uses.
                const int64_t n = golden.Get(p + alt + "generate.ids")->numel();
                std::vector<int64_t> generated;
                at::Tensor rows = final_rows;
                at::Tensor logits = final_out.logits[0];
                for (int64_t step = 0; step < n; ++step) {
                  generated.push_back(logits.argmax().item<int64_t>());
                  if (step + 1 == n) break;
                  LMEYE_ASSIGN_OR_RETURN(
                      at::Tensor next,
                      llm.EmbedTokens(at::full({1, 1}, generated.back(), at::kLong)));
                  rows = at::cat({rows, next[0]}, 0);
                  LlmInput step_in;
                  step_in.inputs_embeds = rows.unsqueeze(0);
                  LMEYE_ASSIGN_OR_RETURN(LlmOutput step_out, llm.Forward(step_in, last));
                  logits = step_out.logits[0];
                }
                add(p + alt + "generate.ids", at::tensor(generated, at::kLong), true);
              }
            }
            LMEYE_RETURN_IF_ERROR(ServingPath(golden, *model, p, ids, pixels, checks));
          }
          return checks;
        });
  }

 private:
  // What `lmeye serve` runs: the engine's phases on a KV cache, then greedy and beam 5 from it.
  static absl::Status ServingPath(const GoldenSet& golden, LmeyeModel& model, const std::string& p,
                                  const at::Tensor& ids, const at::Tensor& pixels,
                                  std::vector<GoldenCheck>& checks) {
    const LingcloudV0Config& config = model.lingcloud_v0()->options();
    int n_steps = 8;
    if (golden.Contains(p + "generate.ids")) {
      n_steps = static_cast<int>(golden.Get(p + "generate.ids")->numel());
    }
    EngineOptions options;
    options.n_slots = 5;  // beam 5 borrows four
    options.capacity = static_cast<int>(ids.numel()) + n_steps + 2;
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<IpnEngine> engine, IpnEngine::Create(&model, options));
    LMEYE_ASSIGN_OR_RETURN(IpnSequence seq, SequenceOf(ids, config));
    LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine->EncodeImages(pixels.unsqueeze(0)));
    seq.h_i = h_i[0];
    LMEYE_RETURN_IF_ERROR(engine->FirstPass({&seq}));
    LMEYE_RETURN_IF_ERROR(engine->Interact({&seq}));
    LMEYE_RETURN_IF_ERROR(engine->SecondPass({&seq}));
    auto add = [&](const std::string& name, at::Tensor value, bool exact) {
      if (golden.Contains(name)) checks.push_back({name, value.detach().cpu(), {}, exact});
    };
    add(p + "serving.logits_last", seq.next_logits, false);
    // Greedy from the cache, as the scheduler's decode steps.
    LMEYE_ASSIGN_OR_RETURN(GreedyDecoding greedy, GreedyFromEngine(*engine, seq, n_steps));
    add(p + "generate.ids", greedy.ids, true);
    add(p + "generate.step_logits", greedy.step_logits, false);
    if (golden.Contains(p + "beam5.ids")) {
      // A fresh pass: the greedy steps above extended the slot.
      IpnSequence again;
      LMEYE_ASSIGN_OR_RETURN(again, SequenceOf(ids, config));
      again.h_i = seq.h_i;
      LMEYE_RETURN_IF_ERROR(engine->FirstPass({&again}));
      LMEYE_RETURN_IF_ERROR(engine->Interact({&again}));
      LMEYE_RETURN_IF_ERROR(engine->SecondPass({&again}));
      BeamSearchParams beams;
      beams.num_beams = 5;
      beams.max_new_tokens = static_cast<int>(golden.Get(p + "beam5.ids")->numel());
      beams.length_penalty = 1.0;
      beams.eos_token_ids = model.llm().config().eos_token_ids;
      beams.prompt_length = 1;  // transformers 4.29's BOS placeholder for inputs_embeds
      LMEYE_ASSIGN_OR_RETURN(at::Tensor best, BeamFromEngine(*engine, again, beams));
      add(p + "beam5.ids", best, true);
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeLingcloudV0GoldenRecomputer() {
  return std::make_unique<LingcloudV0GoldenRecomputer>();
}

}  // namespace lmeye
