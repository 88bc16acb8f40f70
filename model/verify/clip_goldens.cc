// Recomputes the goldens of CLIP model directories (golden.json model_class CLIPVisionModel,
// CLIPVisionModelWithProjection, CLIPTextModel, CLIPTextModelWithProjection, CLIPModel).
//
// Golden names (see tests/data/models/clip-*-tiny/golden.json):
//   vision, input pixel_values: embeddings, hidden_states.N, last_hidden_state, pooler_output,
//     image_embeds;
//   text, input input_ids: pool_index (exact ids), hidden_states.N, last_hidden_state,
//     pooler_output, text_embeds;
//   text, input embeds_inputs_embeds (positions added): embeds_last_hidden_state,
//     embeds_projected (projection at every position);
//   text, input direct_hidden_states_in (no positions): direct_last_hidden_state,
//     direct_projected.
// A CLIPModel golden holds both towers, so their outputs are named as transformers' CLIPOutput
// does: vision_model_output.<name> and text_model_output.<name>; its image_embeds / text_embeds
// are L2-normalised and logits_per_image / logits_per_text are scaled by exp(logit_scale).
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/text/clip_text.h"
#include "model/verify/golden.h"
#include "model/vision/clip_config.h"
#include "model/vision/clip_vision.h"

namespace lmeye {
namespace {

const std::set<std::string>& ClipModelClasses() {
  static const auto* classes =
      new std::set<std::string>{"CLIPVisionModel", "CLIPVisionModelWithProjection", "CLIPTextModel",
                                "CLIPTextModelWithProjection", "CLIPModel"};
  return *classes;
}

// Collects checks for the golden names that exist.
class CheckList {
 public:
  explicit CheckList(const GoldenSet& golden) : golden_(golden) {}

  void Add(const std::string& name, const at::Tensor& actual, bool exact = false) {
    if (!golden_.Contains(name) || golden_.IsInput(name) || !actual.defined()) return;
    GoldenCheck check;
    check.name = name;
    check.actual = exact ? actual.to(at::kCPU, at::kLong) : actual.to(at::kCPU, at::kFloat);
    check.exact = exact;
    checks_.push_back(std::move(check));
  }
  std::vector<GoldenCheck> Take() { return std::move(checks_); }

 private:
  const GoldenSet& golden_;
  std::vector<GoldenCheck> checks_;
};

void AddHiddenStates(CheckList& list, const std::string& prefix,
                     const std::vector<at::Tensor>& hidden_states) {
  for (size_t i = 0; i < hidden_states.size(); ++i) {
    list.Add(absl::StrCat(prefix, "hidden_states.", i), hidden_states[i]);
  }
}

absl::StatusOr<ClipVisionOutput> RecomputeVision(const GoldenSet& golden,
                                                 const ClipVisionTower& tower,
                                                 const std::string& prefix, CheckList& list) {
  LMEYE_ASSIGN_OR_RETURN(at::Tensor pixels, golden.Get("pixel_values"));
  ClipVisionForwardOptions options;
  options.output_hidden_states = true;
  LMEYE_ASSIGN_OR_RETURN(ClipVisionOutput out, tower.Forward(pixels, options));
  list.Add(prefix + "embeddings", out.embeddings);
  AddHiddenStates(list, prefix, out.hidden_states);
  list.Add(prefix + "last_hidden_state", out.last_hidden_state);
  list.Add(prefix + "pooler_output", out.pooler_output);
  return out;
}

absl::StatusOr<ClipTextOutput> RecomputeTextIds(const GoldenSet& golden, const ClipTextTower& tower,
                                                const std::string& prefix, CheckList& list) {
  LMEYE_ASSIGN_OR_RETURN(at::Tensor ids, golden.Get("input_ids"));
  ClipTextForwardOptions options;
  options.output_hidden_states = true;
  if (golden.Contains("attention_mask")) {
    LMEYE_ASSIGN_OR_RETURN(options.attention_mask, golden.Get("attention_mask"));
  }
  LMEYE_ASSIGN_OR_RETURN(ClipTextOutput out, tower.ForwardIds(ids, options));
  list.Add(prefix + "pool_index", out.pool_index, /*exact=*/true);
  AddHiddenStates(list, prefix, out.hidden_states);
  list.Add(prefix + "last_hidden_state", out.last_hidden_state);
  list.Add(prefix + "pooler_output", out.pooler_output);
  return out;
}

// The caller-provided embeddings entries: `input` -> `<stem>_last_hidden_state` and
// `<stem>_projected`.
absl::Status RecomputeTextEmbeds(const GoldenSet& golden, const ClipTextTower& tower,
                                 const std::string& input, const std::string& stem,
                                 bool add_positions, CheckList& list) {
  if (!golden.Contains(input)) return absl::OkStatus();
  LMEYE_ASSIGN_OR_RETURN(at::Tensor x, golden.Get(input));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor hidden, tower.ForwardEmbeds(x, add_positions));
  list.Add(stem + "_last_hidden_state", hidden);
  if (tower.has_projection()) {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor projected, tower.Project(hidden));
    list.Add(stem + "_projected", projected);
  }
  return absl::OkStatus();
}

at::Tensor L2Normalize(const at::Tensor& x) { return x / x.norm(2, -1, /*keepdim=*/true); }

class ClipGoldenRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "clip"; }

  bool Handles(const GoldenSet& golden) const override {
    return ClipModelClasses().count(golden.model_class()) > 0;
  }

  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet& golden,
                                                     const at::Device& device) const override {
    const bool full = golden.model_class() == "CLIPModel";
    LMEYE_ASSIGN_OR_RETURN(ClipConfig config, LoadClipConfig(golden.model_dir()));
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(golden.model_dir()));
    CheckList list(golden);
    at::Tensor image_embeds, text_embeds;
    ClipRuntimeOptions runtime;
    runtime.device = device;

    if (config.vision.has_value() && golden.Contains("pixel_values")) {
      LMEYE_ASSIGN_OR_RETURN(auto tower, ClipVisionTower::Load(config, *ckpt, runtime));
      LMEYE_ASSIGN_OR_RETURN(
          ClipVisionOutput out,
          RecomputeVision(golden, *tower, full ? "vision_model_output." : "", list));
      image_embeds = out.image_embeds;
    }
    if (config.text.has_value()) {
      LMEYE_ASSIGN_OR_RETURN(auto tower, ClipTextTower::Load(config, *ckpt, runtime));
      if (golden.Contains("input_ids")) {
        LMEYE_ASSIGN_OR_RETURN(
            ClipTextOutput out,
            RecomputeTextIds(golden, *tower, full ? "text_model_output." : "", list));
        text_embeds = out.text_embeds;
      }
      LMEYE_RETURN_IF_ERROR(RecomputeTextEmbeds(golden, *tower, "embeds_inputs_embeds", "embeds",
                                                /*add_positions=*/true, list));
      LMEYE_RETURN_IF_ERROR(RecomputeTextEmbeds(golden, *tower, "direct_hidden_states_in", "direct",
                                                /*add_positions=*/false, list));
    }

    if (!full) {
      list.Add("image_embeds", image_embeds);
      list.Add("text_embeds", text_embeds);
      return list.Take();
    }
    // CLIPModel: normalised embeddings and the similarity logits.
    LMEYE_RETURN_IF_ERROR(GuardTorch("CLIP logits", [&]() -> absl::Status {
      if (image_embeds.defined()) image_embeds = L2Normalize(image_embeds);
      if (text_embeds.defined()) text_embeds = L2Normalize(text_embeds);
      list.Add("image_embeds", image_embeds);
      list.Add("text_embeds", text_embeds);
      if (image_embeds.defined() && text_embeds.defined() && ckpt->Contains("logit_scale")) {
        LMEYE_ASSIGN_OR_RETURN(at::Tensor logit_scale, ckpt->Load("logit_scale", at::kFloat));
        at::Tensor logits_per_text = at::matmul(text_embeds, image_embeds.t()) * logit_scale.exp();
        list.Add("logits_per_text", logits_per_text);  // [n_texts, n_images]
        list.Add("logits_per_image", logits_per_text.t());
      }
      return absl::OkStatus();
    }));
    return list.Take();
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeClipGoldenRecomputer() {
  return std::make_unique<ClipGoldenRecomputer>();
}

}  // namespace lmeye
