// Goldens of causal LM directories (OPTForCausalLM, BloomForCausalLM, LlamaForCausalLM): the
// fixture format of tests/data/models/{opt,bloom,llama}-tiny/golden.json. Each group is
// recomputed when its inputs are present, so any directory in that format works:
//   a_right / a_left: padded forward (logits at real positions, hidden states everywhere);
//   a_left.logits_posids: forward with explicit position_ids;
//   b: forward by inputs_embeds; c1..c4: greedy generation (ids exact, step logits);
//   d: full forward vs prefix + one KV-cached step.
#include <set>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/llm/greedy.h"
#include "model/llm/llm_arch.h"
#include "model/llm/llm_model.h"
#include "model/verify/golden.h"

namespace lmeye {
namespace {

using json = nlohmann::json;

class LlmRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "llm"; }

  bool Handles(const GoldenSet& golden) const override {
    const std::string cls = golden.model_class();
    for (const LlmArch& arch : AllLlmArchs()) {
      for (const std::string& a : arch.architectures) {
        if (a == cls) return true;
      }
    }
    return false;
  }

  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet& golden,
                                                     const at::Device& device) const override {
    torch::NoGradGuard no_grad;
    LlmLoadOptions load;
    load.device = device;
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LlmModel> model,
                           LlmModel::Load(golden.model_dir(), load));
    Run run{golden, *model, {}};
    LMEYE_RETURN_IF_ERROR(GuardTorch("recomputing LLM goldens", [&]() -> absl::Status {
      LMEYE_RETURN_IF_ERROR(run.Padded("a_right"));
      LMEYE_RETURN_IF_ERROR(run.Padded("a_left"));
      LMEYE_RETURN_IF_ERROR(run.Embeds());
      LMEYE_RETURN_IF_ERROR(run.Generation());
      return run.Incremental();
    }));
    return std::move(run.checks);
  }

 private:
  struct Run {
    const GoldenSet& golden;
    const LlmModel& model;
    std::vector<GoldenCheck> checks;

    bool Has(const std::string& name) const { return golden.Contains(name); }
    absl::StatusOr<at::Tensor> Get(const std::string& name) const { return golden.Get(name); }
    void Add(const std::string& name, at::Tensor actual, at::Tensor mask = {}, bool exact = false) {
      if (!Has(name)) return;
      checks.push_back(GoldenCheck{name, actual.to(at::kCPU), mask, exact});
    }

    // HF LLaMA's forward() without position_ids uses arange for every row, ignoring padding
    // (unlike generate()); the other families always derive positions from the mask.
    void HfForwardPositions(LlmInput& in, int64_t B, int64_t T) const {
      if (model.config().family == LlmFamily::kLlama) {
        in.position_ids = at::arange(T, at::kLong).unsqueeze(0).expand({B, T});
      }
    }

    absl::Status Padded(const std::string& group) {
      if (!Has(group + ".input_ids")) return absl::OkStatus();
      LlmInput in;
      LMEYE_ASSIGN_OR_RETURN(in.input_ids, Get(group + ".input_ids"));
      const int64_t B = in.input_ids.size(0), T = in.input_ids.size(1);
      at::Tensor mask = at::ones({B, T}, at::kLong);
      if (Has(group + ".attention_mask")) {
        LMEYE_ASSIGN_OR_RETURN(mask, Get(group + ".attention_mask"));
      }
      in.attention_mask = mask;
      HfForwardPositions(in, B, T);
      LlmOutputOptions options;
      options.hidden_states = true;
      LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Forward(in, options));
      at::Tensor real = mask.to(at::kBool).unsqueeze(-1);  // [B, T, 1]
      Add(group + ".logits", out.logits, real);
      // Hidden states are compared at padding positions too: transformers computes them
      // deterministically (pad embeddings, HF's masking) and so do we.
      for (size_t i = 0; i < out.hidden_states.size(); ++i) {
        Add(absl::StrCat(group, ".hidden_states.", i), out.hidden_states[i]);
      }
      if (Has(group + ".position_ids") && Has(group + ".logits_posids")) {
        LMEYE_ASSIGN_OR_RETURN(in.position_ids, Get(group + ".position_ids"));
        LMEYE_ASSIGN_OR_RETURN(LlmOutput with_positions, model.Forward(in));
        Add(group + ".logits_posids", with_positions.logits, real);
      }
      return absl::OkStatus();
    }

    absl::Status Embeds() {
      if (!Has("b.inputs_embeds")) return absl::OkStatus();
      LlmInput in;
      LMEYE_ASSIGN_OR_RETURN(in.inputs_embeds, Get("b.inputs_embeds"));
      if (Has("b.attention_mask")) {
        LMEYE_ASSIGN_OR_RETURN(in.attention_mask, Get("b.attention_mask"));
      }
      HfForwardPositions(in, in.inputs_embeds.size(0), in.inputs_embeds.size(1));
      LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Forward(in));
      Add("b.logits", out.logits);
      return absl::OkStatus();
    }

    // golden.json "generation" settings, else the model config's.
    GreedyOptions Greedy(int64_t prompt_width, const std::string& output_name) const {
      const LlmConfig& c = model.config();
      GreedyOptions g;
      g.eos_token_ids = c.eos_token_ids;
      g.pad_token_id = c.pad_token_id;
      g.keep_step_logits = true;
      g.max_new_tokens = 0;
      const json& spec = golden.spec();
      auto gen = spec.find("generation");
      if (gen != spec.end() && gen->is_object()) {
        auto eos = gen->find("eos_token_id");
        if (eos != gen->end() && eos->is_number_integer()) g.eos_token_ids = {eos->get<int64_t>()};
        auto pad = gen->find("pad_token_id");
        if (pad != gen->end() && pad->is_number_integer()) g.pad_token_id = pad->get<int64_t>();
        auto n = gen->find("max_new_tokens");
        if (n != gen->end() && n->is_number_integer()) g.max_new_tokens = n->get<int>();
      }
      if (g.max_new_tokens <= 0) {
        // Without the setting: as many steps as the golden output has new columns.
        auto tensors = spec.find("tensors");
        if (tensors != spec.end() && tensors->contains(output_name)) {
          const json& shape = (*tensors)[output_name]["shape"];
          if (shape.is_array() && shape.size() == 2) {
            g.max_new_tokens = static_cast<int>(shape[1].get<int64_t>() - prompt_width);
          }
        }
      }
      return g;
    }

    absl::Status GenerateFromIds(const std::string& prompt_group, const std::string& out_group,
                                 const std::vector<int64_t>* eos_override) {
      if (!Has(prompt_group + ".prompt_ids") || !Has(out_group + ".output_ids")) {
        return absl::OkStatus();
      }
      LlmInput in;
      LMEYE_ASSIGN_OR_RETURN(in.input_ids, Get(prompt_group + ".prompt_ids"));
      if (Has(prompt_group + ".attention_mask")) {
        LMEYE_ASSIGN_OR_RETURN(in.attention_mask, Get(prompt_group + ".attention_mask"));
      }
      GreedyOptions g = Greedy(in.input_ids.size(1), out_group + ".output_ids");
      if (eos_override != nullptr) g.eos_token_ids = *eos_override;
      LMEYE_ASSIGN_OR_RETURN(GreedyResult r, GreedyGenerate(model, in, g));
      Add(out_group + ".output_ids", at::cat({in.input_ids.to(at::kLong), r.tokens}, 1), {}, true);
      Add(out_group + ".step_logits", r.step_logits);
      return absl::OkStatus();
    }

    absl::Status Generation() {
      LMEYE_RETURN_IF_ERROR(GenerateFromIds("c1", "c1", nullptr));
      LMEYE_RETURN_IF_ERROR(GenerateFromIds("c2", "c2", nullptr));
      if (Has("c4.eos_token_id")) {
        LMEYE_ASSIGN_OR_RETURN(at::Tensor eos, Get("c4.eos_token_id"));
        at::Tensor flat = eos.to(at::kLong).contiguous().view({-1});
        std::vector<int64_t> ids(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
        LMEYE_RETURN_IF_ERROR(GenerateFromIds("c2", "c4", &ids));
      }
      if (Has("c3.inputs_embeds") && Has("c3.output_ids")) {
        // HF 4.35 generate(inputs_embeds=...) returns a placeholder column of bos_token_id (not
        // fed to the model) before the generated tokens.
        LlmInput in;
        LMEYE_ASSIGN_OR_RETURN(in.inputs_embeds, Get("c3.inputs_embeds"));
        if (Has("c3.attention_mask")) {
          LMEYE_ASSIGN_OR_RETURN(in.attention_mask, Get("c3.attention_mask"));
        }
        GreedyOptions g = Greedy(1, "c3.output_ids");
        LMEYE_ASSIGN_OR_RETURN(GreedyResult r, GreedyGenerate(model, in, g));
        at::Tensor bos = at::full({r.tokens.size(0), 1}, model.config().bos_token_id, at::kLong);
        Add("c3.output_ids", at::cat({bos, r.tokens}, 1), {}, true);
        Add("c3.step_logits", r.step_logits);
      }
      return absl::OkStatus();
    }

    absl::Status Incremental() {
      if (!Has("d.input_ids")) return absl::OkStatus();
      LMEYE_ASSIGN_OR_RETURN(at::Tensor ids, Get("d.input_ids"));
      const int64_t B = ids.size(0), T = ids.size(1);
      LlmInput full;
      full.input_ids = ids;
      LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Forward(full));
      Add("d.full_logits_last", out.logits.select(1, T - 1));
      if (T < 2) return absl::OkStatus();
      LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, model.NewCache(B, T));
      std::vector<int> slots;
      for (int64_t b = 0; b < B; ++b) {
        LMEYE_ASSIGN_OR_RETURN(int slot, cache->Allocate());
        slots.push_back(slot);
      }
      LlmOutputOptions last;
      last.logits = LogitsAt::kLast;
      LlmInput prefix, step;
      prefix.input_ids = ids.narrow(1, 0, T - 1);
      step.input_ids = ids.narrow(1, T - 1, 1);
      LMEYE_RETURN_IF_ERROR(model.Step(prefix, *cache, slots, last).status());
      LMEYE_ASSIGN_OR_RETURN(LlmOutput stepped, model.Step(step, *cache, slots, last));
      Add("d.step_logits_last", stepped.logits);
      return absl::OkStatus();
    }
  };
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeLlmGoldenRecomputer() {
  return std::make_unique<LlmRecomputer>();
}

}  // namespace lmeye
