// Goldens of the released LMEye v0.1 layout on BLIP-2 Flan-T5 (tests/data/models/
// lingcloud-blip2-tiny, docs/LINGCLOUD.md "LMEye v0.1") for a model directory `lmeye import
// lingcloud` made from the fixture's files: every stage of each sample from the golden pixels and
// ids (vision tower, Q-Former, the IPN's rows, both T5 encoder passes, the CLIP interaction), then
// the serving path itself (Seq2SeqIpnEngine's passes, greedy decoding from T5's self- and
// cross-attention cache with every step's logits, beam 5 over the same cache), and the
// alternative reading of the interaction rows (alt_prequery_rows.*, decoded by the model alone).
#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/generate/beam_search.h"
#include "model/generate/t5_slot_stepper.h"
#include "model/ipn/engine.h"
#include "model/ipn/lmeye_model.h"
#include "model/verify/engine_decoding.h"
#include "model/verify/golden.h"

namespace lmeye {
namespace {

// The prompt's encoder inputs through both passes, as LingcloudV01Ipn computes them.
struct EncoderPasses {
  at::Tensor first_inputs, first_hidden, pre_query_hidden, second_inputs, second_hidden;
  at::Tensor mask;  // [1, Q + L], all ones
  LingcloudV01Trace trace;
};

absl::StatusOr<EncoderPasses> RunPasses(const LingcloudV01Model& model, const LingcloudV01Ipn& ipn,
                                        const at::Tensor& q, const at::Tensor& ids) {
  EncoderPasses out;
  const T5Model& t5 = model.t5();
  const at::Tensor batch_ids = ids.view({1, -1});
  LMEYE_ASSIGN_OR_RETURN(at::Tensor lmi, ipn.LanguageInputs(q));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor tokens, t5.EmbedTokens(batch_ids));
  LMEYE_ASSIGN_OR_RETURN(out.first_inputs, ipn.FirstPassInputs(lmi, tokens, batch_ids));
  out.mask = at::ones({1, out.first_inputs.size(1)}, at::kLong);
  LMEYE_ASSIGN_OR_RETURN(out.first_hidden, t5.Encode(out.first_inputs, out.mask));
  LMEYE_ASSIGN_OR_RETURN(std::vector<int64_t> imgq, ipn.ImgqRows(batch_ids));
  out.pre_query_hidden = out.first_hidden[0][imgq[0]];
  LMEYE_ASSIGN_OR_RETURN(at::Tensor imgd_prompt,
                         ipn.Interact(q, out.pre_query_hidden.unsqueeze(0), &out.trace));
  LMEYE_ASSIGN_OR_RETURN(out.second_inputs,
                         ipn.SecondPassInputs(out.first_inputs, batch_ids, imgd_prompt));
  LMEYE_ASSIGN_OR_RETURN(out.second_hidden, t5.Encode(out.second_inputs, out.mask));
  return out;
}

// Greedy decoding of `n` tokens from T5's caches, starting at decoder_start_token_id: the ids and
// every step's logits [n, V].
absl::StatusOr<std::pair<at::Tensor, at::Tensor>> Greedy(const T5Model& t5,
                                                         const at::Tensor& encoded,
                                                         const at::Tensor& mask, int n) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<T5Cache> cache,
                         t5.NewCache(1, n + 1, static_cast<int>(encoded.size(1))));
  LMEYE_ASSIGN_OR_RETURN(int slot, cache->Allocate());
  LMEYE_RETURN_IF_ERROR(t5.StartDecoding(encoded, mask, *cache, {slot}));
  T5SlotStepper stepper(t5, *cache);
  std::vector<int64_t> ids;
  std::vector<at::Tensor> logits;
  int64_t next = t5.config().decoder_start_token_id;
  for (int step = 0; step < n; ++step) {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor out, stepper.Step({slot}, {next}));
    logits.push_back(out[0].to(at::kFloat));
    next = logits.back().argmax().item<int64_t>();
    ids.push_back(next);
  }
  return std::make_pair(at::tensor(ids, at::kLong), at::stack(logits));
}

// The prompt `ids` laid out for the engine: everything up to the first <img-d> is text, the rest
// the tail with each <img-d> a slot position (the image is the Q-Former rows before it all).
IpnSequence SequenceOf(const at::Tensor& ids, int64_t imgd_id) {
  IpnSequence seq;
  bool in_tail = false;
  for (int64_t t = 0; t < ids.numel(); ++t) {
    const int64_t id = ids[t].item<int64_t>();
    in_tail = in_tail || id == imgd_id;
    if (in_tail) {
      seq.tail.push_back(id == imgd_id ? kSlotPosition : static_cast<int>(id));
    } else {
      seq.text.push_back(static_cast<int>(id));
    }
  }
  return seq;
}

// What `lmeye serve` runs: the engine's passes, then greedy (every step's logits) and beam 5 from
// its cache.
absl::Status ServingPath(const GoldenSet& golden, LmeyeModel& model, const std::string& p,
                         const at::Tensor& ids, const at::Tensor& pixels, int greedy_steps,
                         std::vector<GoldenCheck>& checks) {
  auto add = [&](const std::string& name, at::Tensor value, bool exact) {
    if (golden.Contains(name)) checks.push_back({name, value.detach().cpu(), {}, exact});
  };
  const int64_t imgd = model.adapter_config().lingcloud_v0_1.imgd_token_id;
  EngineOptions options;
  options.n_slots = 5;  // beam 5 borrows four
  options.capacity = static_cast<int>(ids.numel()) + 64;
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<IpnEngine> engine, IpnEngine::Create(&model, options));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor q, engine->EncodeImages(pixels.unsqueeze(0)));
  auto ready = [&](IpnSequence& seq) -> absl::Status {
    seq.h_i = q[0];
    LMEYE_RETURN_IF_ERROR(engine->FirstPass({&seq}));
    LMEYE_RETURN_IF_ERROR(engine->Interact({&seq}));
    return engine->SecondPass({&seq});
  };
  IpnSequence seq = SequenceOf(ids, imgd);
  LMEYE_RETURN_IF_ERROR(ready(seq));
  LMEYE_ASSIGN_OR_RETURN(GreedyDecoding greedy, GreedyFromEngine(*engine, seq, greedy_steps));
  add(p + "generate.ids", greedy.ids, true);
  add(p + "decoder.step_logits", greedy.step_logits, false);
  if (golden.Contains(p + "beam5.ids")) {
    IpnSequence again = SequenceOf(ids, imgd);
    LMEYE_RETURN_IF_ERROR(ready(again));
    BeamSearchParams beams;
    beams.num_beams = 5;
    beams.max_new_tokens = static_cast<int>(golden.Get(p + "beam5.ids")->numel());
    beams.length_penalty = 1.0;
    beams.eos_token_ids = {model.lingcloud_v01()->t5().config().eos_token_id};
    LMEYE_ASSIGN_OR_RETURN(at::Tensor best, BeamFromEngine(*engine, again, beams));
    add(p + "beam5.ids", best, true);
  }
  return absl::OkStatus();
}

class LingcloudV01GoldenRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "lingcloud-v0.1"; }

  bool Handles(const GoldenSet& golden) const override {
    auto layout = golden.spec().find("layout");
    return layout != golden.spec().end() && layout->is_string() &&
           absl::StartsWith(layout->get<std::string>(), "LingCloud LMEye v0.1");
  }

  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet& golden,
                                                     const at::Device& device) const override {
    LmeyeLoadOptions load;
    load.device = device;
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LmeyeModel> served,
                           LmeyeModel::Load(golden.model_dir(), load));
    if (served->lingcloud_v01() == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(golden.model_dir(),
                       " is not a lingcloud-v0.1 model directory (adapter.json layout); make one "
                       "with lmeye import lingcloud"));
    }
    const LingcloudV01Model& model = *served->lingcloud_v01();
    const LingcloudV01Ipn& ipn = model.ipn();
    // The alternative reading of the interaction's rows, on the same weights.
    LingcloudV01Config request_rows = ipn.options();
    request_rows.clip_rows = "request";
    LMEYE_ASSIGN_OR_RETURN(
        std::unique_ptr<LingcloudV01Ipn> alt,
        LingcloudV01Ipn::Create(ipn.holder(), &model.text(), ipn.num_query_tokens(), request_rows));
    torch::NoGradGuard no_grad;
    return GuardTorch(
        "recomputing LingCloud v0.1 goldens", [&]() -> absl::StatusOr<std::vector<GoldenCheck>> {
          std::vector<GoldenCheck> checks;
          auto add = [&](const std::string& name, at::Tensor value, bool exact = false) {
            if (golden.Contains(name)) checks.push_back({name, value.detach().cpu(), {}, exact});
          };
          auto steps = [&](const std::string& name) -> int {
            auto t = golden.Get(name);
            return t.ok() ? static_cast<int>(t->numel()) : 8;
          };
          for (int s = 0;; ++s) {
            const std::string p = absl::StrCat("s", s, ".");
            if (!golden.Contains(p + "input_ids")) break;
            LMEYE_ASSIGN_OR_RETURN(at::Tensor ids, golden.Get(p + "input_ids"));
            ids = ids.to(at::kLong).contiguous();
            LMEYE_ASSIGN_OR_RETURN(at::Tensor pixels, golden.Get(p + "pixel_values"));
            LMEYE_ASSIGN_OR_RETURN(Blip2VisionOutput image,
                                   model.vision().Forward(pixels.unsqueeze(0)));
            add(p + "vision.last_hidden_state", image.last_hidden_state[0]);
            add(p + "vision.pooler_output", image.pooler_output[0]);
            LMEYE_ASSIGN_OR_RETURN(at::Tensor q, model.qformer().Forward(image.last_hidden_state));
            add(p + "qformer.last_hidden_state", q[0]);
            LMEYE_ASSIGN_OR_RETURN(at::Tensor lmi, ipn.LanguageInputs(q));
            add(p + "language_model_inputs", lmi[0]);
            if (golden.Contains(p + "clip_input_ids")) {
              LMEYE_ASSIGN_OR_RETURN(at::Tensor clip_ids, golden.Get(p + "clip_input_ids"));
              LMEYE_ASSIGN_OR_RETURN(at::Tensor tokens,
                                     model.text().TokenEmbeddings(clip_ids.to(at::kLong)));
              add(p + "clip_base_embeds",
                  tokens + model.text().PositionEmbeddings().narrow(0, 0, clip_ids.numel()));
            }

            LMEYE_ASSIGN_OR_RETURN(EncoderPasses passes, RunPasses(model, ipn, q, ids));
            add(p + "encoder_attention_mask", passes.mask[0], /*exact=*/true);
            add(p + "first.inputs_embeds", passes.first_inputs[0]);
            add(p + "first.encoder_last_hidden_state", passes.first_hidden[0]);
            add(p + "pre_query.hidden", passes.pre_query_hidden);
            add(p + "pre_query", passes.trace.pre_query[0]);
            add(p + "query_output_linear", passes.trace.query_output_linear[0]);
            add(p + "clip_hidden_states", passes.trace.clip_hidden_states[0]);
            add(p + "clip_last_hidden_state", passes.trace.clip_last_hidden[0]);
            add(p + "clip_text_feature", passes.trace.clip_text_feature[0]);
            add(p + "imgd_prompt", passes.trace.imgd_prompt[0]);
            add(p + "second.inputs_embeds", passes.second_inputs[0]);
            add(p + "second.encoder_last_hidden_state", passes.second_hidden[0]);

            LMEYE_RETURN_IF_ERROR(
                ServingPath(golden, *served, p, ids, pixels, steps(p + "generate.ids"), checks));
            const std::string alt_ids = p + "alt_prequery_rows.generate.ids";
            if (golden.Contains(alt_ids)) {
              LMEYE_ASSIGN_OR_RETURN(EncoderPasses other, RunPasses(model, *alt, q, ids));
              LMEYE_ASSIGN_OR_RETURN(auto alt_greedy, Greedy(model.t5(), other.second_hidden,
                                                             other.mask, steps(alt_ids)));
              add(alt_ids, alt_greedy.first, /*exact=*/true);
            }
          }
          return checks;
        });
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeLingcloudV01GoldenRecomputer() {
  return std::make_unique<LingcloudV01GoldenRecomputer>();
}

}  // namespace lmeye
