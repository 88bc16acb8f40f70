// Goldens of an LMEye model directory (tests/data/models/lmeye-tiny-*): every IPN intermediate
// of two samples, the second pass with and without KV reuse, greedy generation with and without
// the interaction (IPN*), and a right-padded batch. See golden.json "computation".
#include <fstream>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/ipn/lmeye_model.h"
#include "model/verify/golden.h"

namespace lmeye {
namespace {

// Greedy continuation through the KV cache: the prompt (or its continuation) has already been
// stepped into `slot`, `first_logits` [V] are the logits at its last position.
absl::StatusOr<std::pair<at::Tensor, at::Tensor>> GreedyFromCache(const LlmModel& llm,
                                                                  KvCache& cache, int slot,
                                                                  at::Tensor first_logits,
                                                                  int n_steps) {
  std::vector<int64_t> ids;
  std::vector<at::Tensor> step_logits;
  at::Tensor logits = first_logits;
  for (int step = 0; step < n_steps; ++step) {
    step_logits.push_back(logits);
    int64_t next = logits.argmax().item<int64_t>();
    ids.push_back(next);
    if (step + 1 == n_steps) break;
    LlmInput input;
    input.input_ids = at::tensor({next}, at::kLong).view({1, 1});
    LlmOutputOptions options;
    options.logits = LogitsAt::kLast;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Step(input, cache, {slot}, options));
    logits = out.logits[0];
  }
  return std::make_pair(at::tensor(ids, at::kLong), at::stack(step_logits));
}

class LmeyeGoldenRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "lmeye"; }

  bool Handles(const GoldenSet& golden) const override {
    return golden.spec().contains("adapter") &&
           FileExists(ModelDir(golden.model_dir(), IpnAdapterConfig()).adapter_config_file());
  }

  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet& golden,
                                                     const at::Device& device) const override {
    LmeyeLoadOptions load;
    load.device = device;
    LMEYE_ASSIGN_OR_RETURN(auto model, LmeyeModel::Load(golden.model_dir(), load));
    return GuardTorch(
        "recomputing LMEye goldens", [&]() -> absl::StatusOr<std::vector<GoldenCheck>> {
          std::vector<GoldenCheck> checks;
          auto add = [&](const std::string& name, at::Tensor value, bool exact = false,
                         at::Tensor mask = {}) {
            if (golden.Contains(name)) checks.push_back({name, value.detach().cpu(), mask, exact});
          };
          const LlmModel& llm = model->llm();
          LMEYE_ASSIGN_OR_RETURN(at::Tensor pixels, golden.Get("pixel_values"));
          add("interaction.eos_token_id", at::tensor({model->text().eos_word_id()}, at::kLong),
              true);

          std::vector<at::Tensor> h_is, h_rs, h_ds, seconds, ids_list;
          const int n_samples = static_cast<int>(pixels.size(0));
          for (int s = 0; s < n_samples; ++s) {
            const std::string p = absl::StrCat("s", s, ".");
            if (!golden.Contains(p + "input_ids")) break;
            LMEYE_ASSIGN_OR_RETURN(at::Tensor ids, golden.Get(p + "input_ids"));
            ids_list.push_back(ids);
            LMEYE_ASSIGN_OR_RETURN(ClipVisionOutput vis,
                                   model->vision().Forward(pixels.narrow(0, s, 1)));
            add(p + "vision.pooler_output", vis.pooler_output[0]);
            if (vis.image_embeds.defined()) add(p + "vision.image_embeds", vis.image_embeds[0]);
            LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, model->ImageFeature(pixels.narrow(0, s, 1)));
            add(p + "h_I", h_i[0]);
            LMEYE_ASSIGN_OR_RETURN(at::Tensor h_img, model->ImageToken(h_i));  // [1, d_L]
            add(p + "h_img", h_img[0]);
            LMEYE_ASSIGN_OR_RETURN(at::Tensor e_x,
                                   llm.EmbedTokens(ids.view({1, -1})));  // [1, |X|, d_L]
            at::Tensor prefix = at::cat({h_img.unsqueeze(1), e_x}, 1);   // [1, 1+|X|, d_L]
            at::Tensor first = at::cat({prefix, model->ImgdToken().view({1, 1, -1})}, 1);
            add(p + "first_pass.inputs_embeds", first[0]);
            LlmInput first_in;
            first_in.inputs_embeds = first;
            LlmOutputOptions no_logits;
            no_logits.logits = LogitsAt::kNone;
            LMEYE_ASSIGN_OR_RETURN(LlmOutput first_out, llm.Forward(first_in, no_logits));
            add(p + "first_pass.last_hidden_state", first_out.last_hidden_state[0]);
            at::Tensor h_r = first_out.last_hidden_state.select(1, first.size(1) - 1);  // [1, d_L]
            add(p + "h_r", h_r[0]);
            IpnTrace trace;
            LMEYE_ASSIGN_OR_RETURN(at::Tensor h_d, model->Interact(h_i, h_r, &trace));
            add(p + "h_R", trace.h_R[0]);
            add(p + "h_f", trace.h_f[0]);
            add(p + "interaction.input", trace.interaction_input[0]);
            add(p + "interaction.last_hidden_state", trace.interaction_hidden[0]);
            add(p + "interaction.output_normed", trace.output_normed[0]);
            if (model->text().has_projection()) {
              LMEYE_ASSIGN_OR_RETURN(at::Tensor projected,
                                     model->text().Project(trace.output_normed));
              add(p + "interaction.output_projected", projected[0]);
            }
            add(p + "interaction.output", trace.output[0]);
            add(p + "h_d", h_d[0]);
            at::Tensor slot = model->Slot(h_d);  // [1, d_L]
            at::Tensor second = at::cat({prefix, slot.unsqueeze(1)}, 1);
            add(p + "second_pass.inputs_embeds", second[0]);
            LlmInput second_in;
            second_in.inputs_embeds = second;
            LMEYE_ASSIGN_OR_RETURN(LlmOutput second_out, llm.Forward(second_in));
            add(p + "second_pass.logits", second_out.logits[0]);

            // The serving path: first pass into the cache, keep its first P positions, one step on
            // the slot, then greedy decode from the cache.
            const int n_steps = golden.Contains(p + "generate.ids")
                                    ? static_cast<int>(golden.Get(p + "generate.ids")->numel())
                                    : 8;
            const int capacity = static_cast<int>(first.size(1)) + n_steps + 1;
            LMEYE_ASSIGN_OR_RETURN(auto cache, llm.NewCache(1, capacity));
            LMEYE_ASSIGN_OR_RETURN(int cslot, cache->Allocate());
            LMEYE_ASSIGN_OR_RETURN(LlmOutput cached_first,
                                   llm.Step(first_in, *cache, {cslot}, no_logits));
            LMEYE_RETURN_IF_ERROR(cache->Truncate(cslot, static_cast<int>(prefix.size(1))));
            LlmInput slot_in;
            slot_in.inputs_embeds = slot.unsqueeze(1);
            LlmOutputOptions last;
            last.logits = LogitsAt::kLast;
            LMEYE_ASSIGN_OR_RETURN(LlmOutput slot_out, llm.Step(slot_in, *cache, {cslot}, last));
            add(p + "kv_reuse.last_logits", slot_out.logits[0]);
            LMEYE_ASSIGN_OR_RETURN(
                auto gen, GreedyFromCache(llm, *cache, cslot, slot_out.logits[0], n_steps));
            add(p + "generate.ids", gen.first, /*exact=*/true);
            add(p + "generate.step_logits", gen.second);

            // IPN*: no interaction, generate straight after [h_img, E[X]].
            LlmInput static_in;
            static_in.inputs_embeds = prefix;
            LMEYE_ASSIGN_OR_RETURN(LlmOutput static_out, llm.Forward(static_in));
            add(p + "static.logits", static_out.logits[0]);
            LMEYE_ASSIGN_OR_RETURN(auto static_cache, llm.NewCache(1, capacity));
            LMEYE_ASSIGN_OR_RETURN(int sslot, static_cache->Allocate());
            LMEYE_ASSIGN_OR_RETURN(LlmOutput static_step,
                                   llm.Step(static_in, *static_cache, {sslot}, last));
            LMEYE_ASSIGN_OR_RETURN(auto sgen, GreedyFromCache(llm, *static_cache, sslot,
                                                              static_step.logits[0], n_steps));
            add(p + "static.generate.ids", sgen.first, /*exact=*/true);
            add(p + "static.generate.step_logits", sgen.second);

            h_is.push_back(h_i);
            h_rs.push_back(h_r);
            h_ds.push_back(h_d);
            seconds.push_back(second[0]);
          }

          // The batched path: right-padded first and second passes, a batched interaction.
          if (golden.Contains("batch.attention_mask") && !ids_list.empty()) {
            LMEYE_ASSIGN_OR_RETURN(at::Tensor mask, golden.Get("batch.attention_mask"));  // [B, T]
            const int64_t batch = mask.size(0), t = mask.size(1);
            const int64_t pad_id = llm.config().pad_token_id >= 0 ? llm.config().pad_token_id : 0;
            LMEYE_ASSIGN_OR_RETURN(at::Tensor pad,
                                   llm.EmbedTokens(at::full({1, 1}, pad_id, at::kLong)));
            at::Tensor h_i = at::cat(h_is, 0);  // [B, d_v]
            LMEYE_ASSIGN_OR_RETURN(at::Tensor h_img, model->ImageToken(h_i));
            std::vector<at::Tensor> first_rows;
            for (int64_t b = 0; b < batch; ++b) {
              LMEYE_ASSIGN_OR_RETURN(at::Tensor e_x, llm.EmbedTokens(ids_list[b].view({1, -1})));
              at::Tensor row =
                  at::cat({h_img[b].view({1, 1, -1}), e_x, model->ImgdToken().view({1, 1, -1})}, 1);
              int64_t n_pad = t - row.size(1);
              if (n_pad > 0) row = at::cat({row, pad.expand({1, n_pad, pad.size(2)})}, 1);
              first_rows.push_back(row);
            }
            LlmInput batch_first;
            batch_first.inputs_embeds = at::cat(first_rows, 0);
            batch_first.attention_mask = mask;
            LlmOutputOptions no_logits;
            no_logits.logits = LogitsAt::kNone;
            LMEYE_ASSIGN_OR_RETURN(LlmOutput bf, llm.Forward(batch_first, no_logits));
            at::Tensor row_mask = mask.to(at::kBool).unsqueeze(-1);  // [B, T, 1]
            add("batch.first_pass.last_hidden_state", bf.last_hidden_state, false, row_mask);
            at::Tensor slot_index = mask.sum(1) - 1;  // the last real row of each sample
            at::Tensor h_r = bf.last_hidden_state.index(
                {at::arange(batch, at::kLong), slot_index.to(at::kLong)});  // [B, d_L]
            add("batch.h_r", h_r);
            LMEYE_ASSIGN_OR_RETURN(at::Tensor h_d, model->Interact(h_i, h_r));
            add("batch.h_d", h_d);
            at::Tensor second = batch_first.inputs_embeds.clone();
            at::Tensor slot = model->Slot(h_d);
            for (int64_t b = 0; b < batch; ++b) second[b][slot_index[b].item<int64_t>()] = slot[b];
            add("batch.second_pass.inputs_embeds", second, false, row_mask);
            LlmInput batch_second;
            batch_second.inputs_embeds = second;
            batch_second.attention_mask = mask;
            LMEYE_ASSIGN_OR_RETURN(LlmOutput bs, llm.Forward(batch_second));
            add("batch.second_pass.logits", bs.logits, false, row_mask);
          }
          return checks;
        });
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeLmeyeGoldenRecomputer() {
  return std::make_unique<LmeyeGoldenRecomputer>();
}

}  // namespace lmeye
