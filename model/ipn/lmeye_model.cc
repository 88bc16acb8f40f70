#include "model/ipn/lmeye_model.h"

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/vision/clip_config.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<LmeyeModel>> LmeyeModel::Load(const std::string& dir,
                                                             const LmeyeLoadOptions& options) {
  auto model = std::unique_ptr<LmeyeModel>(new LmeyeModel());
  LMEYE_ASSIGN_OR_RETURN(model->dir_, ModelDir::Open(dir));
  const ModelDir& layout = model->dir_;
  const IpnAdapterConfig& ac = layout.adapter_config();
  if (ac.layout == AdapterLayout::kLingcloudV01) {
    // Its backbones (BLIP-2 vision, Q-Former, T5) are not a CLIP vision tower and a causal LM.
    if (options.int8_weights) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir,
          ": int8 weights are for the decoder-only LLMs (OPT, BLOOM, LLaMA); this model's "
          "language model is T5 (use bf16 or fp32)"));
    }
    LMEYE_ASSIGN_OR_RETURN(model->v01_, LingcloudV01Model::Load(layout, options));
    const LingcloudV01Model& v01 = *model->v01_;
    IpnDims& d = model->dims_;
    d.d_v = v01.blip2_config().qformer.hidden_size;
    d.d_t = d.d_o = v01.text().hidden_size();
    d.d_l = v01.t5().config().d_model;
    d.k = ac.lingcloud_v0_1.imgd_len;
    return model;
  }
  ClipRuntimeOptions clip_options;
  clip_options.dtype = options.dtype;
  clip_options.device = options.device;

  // The vision and text towers usually share one CLIPModel directory: open it once.
  const std::string vision_dir = layout.vision_dir();
  LMEYE_ASSIGN_OR_RETURN(ClipConfig vision_config, LoadClipConfig(vision_dir));
  LMEYE_ASSIGN_OR_RETURN(auto vision_ckpt, Checkpoint::Open(vision_dir));
  LMEYE_ASSIGN_OR_RETURN(model->vision_,
                         ClipVisionTower::Load(vision_config, *vision_ckpt, clip_options));
  if (ac.text == ac.vision) {
    LMEYE_ASSIGN_OR_RETURN(model->text_,
                           ClipTextTower::Load(vision_config, *vision_ckpt, clip_options));
  } else {
    LMEYE_ASSIGN_OR_RETURN(model->text_, ClipTextTower::Load(layout.text_dir(), clip_options));
  }
  LlmLoadOptions llm_options;
  llm_options.dtype = options.dtype;
  llm_options.device = options.device;
  llm_options.int8_weights = options.int8_weights;
  LMEYE_ASSIGN_OR_RETURN(model->llm_, LlmModel::Load(layout.llm_dir(), llm_options));

  if (ac.layout == AdapterLayout::kLingcloudV0) {
    LMEYE_RETURN_IF_ERROR(model->LoadLingcloudV0(options));
    return model;
  }
  IpnDims& d = model->dims_;
  if (ac.image_feature == IpnImageFeature::kProjected) {
    if (!model->vision_->has_projection()) {
      return absl::InvalidArgumentError(absl::StrCat(layout.adapter_config_file(),
                                                     ": image_feature is \"projected\" but ",
                                                     vision_dir, " has no visual_projection"));
    }
    d.d_v = model->vision_->config().projection_dim;
  } else {
    d.d_v = model->vision_->config().encoder.hidden_size;
  }
  d.d_t = model->text_->hidden_size();
  if (ac.text_projection) {
    if (!model->text_->has_projection()) {
      return absl::InvalidArgumentError(
          absl::StrCat(layout.adapter_config_file(),
                       ": text_projection is true but the text tower has no text_projection"));
    }
    d.d_o = model->text_->config().projection_dim;
  } else {
    d.d_o = d.d_t;
  }
  d.d_l = model->llm_->config().embed_dim;
  d.k = ac.num_fine;
  if (absl::Status fits = ac.CheckTextPositions(model->text_->config().max_position_embeddings);
      !fits.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(layout.adapter_config_file(), ": ", fits.message()));
  }
  LMEYE_ASSIGN_OR_RETURN(model->adapter_,
                         LoadIpnAdapter(layout.adapter_weights_file(), d, options.dtype));
  model->adapter_->to(options.device);
  return model;
}

absl::Status LmeyeModel::LoadLingcloudV0(const LmeyeLoadOptions& options) {
  const LingcloudV0Config& v0 = adapter_config().lingcloud_v0;
  if (!vision_->has_projection()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir_.vision_dir(),
                     ": layout lingcloud-v0 reads the projected image feature, but the "
                     "vision tower has no visual_projection"));
  }
  // The release's clip_size is at once the image feature, text and projection width.
  dims_.d_v = vision_->config().projection_dim;
  dims_.d_t = text_->hidden_size();
  dims_.d_o = dims_.d_t;
  dims_.d_l = llm_->config().embed_dim;
  dims_.k = v0.query_len;
  if (dims_.d_v != dims_.d_t) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir_.adapter_config_file(), ": layout lingcloud-v0 needs the CLIP projection width (",
        dims_.d_v, ") to equal the CLIP text width (", dims_.d_t, ")"));
  }
  LingcloudV0Dims d;
  d.d_clip = dims_.d_v;
  d.d_l = dims_.d_l;
  d.prompt_len = v0.prompt_len;
  d.query_len = v0.query_len;
  LMEYE_ASSIGN_OR_RETURN(LingcloudV0Adapter adapter,
                         LoadLingcloudV0Adapter(dir_.adapter_weights_file(), d, options.dtype));
  adapter->to(options.device);
  LMEYE_ASSIGN_OR_RETURN(v0_, LingcloudV0Ipn::Create(adapter, text_.get(), llm_.get(), v0));
  return absl::OkStatus();
}

absl::Status LmeyeModel::SetLingcloudV0Options(const LingcloudV0Config& options) {
  if (v0_ == nullptr) {
    return absl::FailedPreconditionError("SetLingcloudV0Options: not a lingcloud-v0 model");
  }
  IpnAdapterConfig config = dir_.adapter_config();
  config.lingcloud_v0 = options;
  LMEYE_RETURN_IF_ERROR(config.Validate());
  LMEYE_ASSIGN_OR_RETURN(v0_,
                         LingcloudV0Ipn::Create(v0_->holder(), text_.get(), llm_.get(), options));
  dir_ = ModelDir(dir_.root(), config);
  return absl::OkStatus();
}

int LmeyeModel::n_slot_positions() const {
  if (v01_ != nullptr) return static_cast<int>(v01_->ipn().imgd_len());
  return v0_ != nullptr ? static_cast<int>(v0_->query_len()) : 1;
}

absl::StatusOr<at::Tensor> LmeyeModel::ImagePosition(const at::Tensor& h_i) {
  if (v0_ != nullptr) return v0_->ImagePosition(h_i);
  return ImageToken(h_i);
}

absl::StatusOr<at::Tensor> LmeyeModel::FirstPassSlot() {
  if (v0_ != nullptr) return v0_->FirstPassSlot();
  return adapter_->imgd_token;
}

absl::StatusOr<IpnSlotRows> LmeyeModel::InteractSlots(const at::Tensor& h_i,
                                                      const at::Tensor& h_r) {
  IpnSlotRows out;
  if (v0_ != nullptr) {
    LMEYE_ASSIGN_OR_RETURN(out.rows, v0_->Interact(h_i, h_r));
    return out;
  }
  LMEYE_ASSIGN_OR_RETURN(out.h_d, Interact(h_i, h_r));
  out.rows = Slot(out.h_d).unsqueeze(1);
  return out;
}

int64_t LmeyeModel::max_sequence_positions() const {
  if (v01_ != nullptr) return 0;  // T5's relative position buckets have no bound
  const LlmConfig& c = llm_->config();
  return c.positions == LlmPositions::kLearned ? c.max_positions : 0;
}

absl::StatusOr<at::Tensor> LmeyeModel::ImageFeature(const at::Tensor& pixel_values) const {
  LMEYE_ASSIGN_OR_RETURN(ClipVisionOutput out, vision_->Forward(pixel_values));
  const bool projected =
      v0_ != nullptr || dir_.adapter_config().image_feature == IpnImageFeature::kProjected;
  return projected ? out.image_embeds : out.pooler_output;
}

absl::StatusOr<at::Tensor> LmeyeModel::ImageToken(const at::Tensor& h_i) {
  if (v0_ != nullptr) {
    return absl::FailedPreconditionError("ImageToken: a lingcloud-v0 model has no img_token");
  }
  return GuardTorch("IPN image token", [&]() -> absl::StatusOr<at::Tensor> {
    if (h_i.dim() != 2 || h_i.size(1) != dims_.d_v) {
      return absl::InvalidArgumentError(absl::StrCat("h_I must be [B, ", dims_.d_v, "]"));
    }
    return adapter_->ImageToken(h_i);
  });
}

absl::StatusOr<at::Tensor> LmeyeModel::Interact(const at::Tensor& h_i, const at::Tensor& h_r,
                                                IpnTrace* trace) {
  if (v0_ != nullptr) {
    return absl::FailedPreconditionError(
        "Interact: a lingcloud-v0 model interacts through InteractSlots");
  }
  return GuardTorch("IPN interaction", [&]() -> absl::StatusOr<at::Tensor> {
    if (h_i.dim() != 2 || h_i.size(1) != dims_.d_v || h_r.dim() != 2 || h_r.size(1) != dims_.d_l ||
        h_r.size(0) != h_i.size(0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Interact: h_I must be [B, ", dims_.d_v, "] and h_r [B, ", dims_.d_l, "]"));
    }
    const int64_t batch = h_i.size(0);
    at::Tensor h_R = adapter_->Request(h_r);    // [B, d_t]
    at::Tensor h_f = adapter_->Decompose(h_i);  // [B, K, d_t]
    at::Tensor eos = text_->EosWordEmbedding().to(h_f.dtype()).expand({batch, 1, dims_.d_t});
    at::Tensor rows = at::cat({h_f, h_R.unsqueeze(1), eos}, 1);  // [B, K+2, d_t]
    const bool positions = dir_.adapter_config().interaction_positions;
    LMEYE_ASSIGN_OR_RETURN(at::Tensor hidden, text_->ForwardEmbeds(rows, positions));
    at::Tensor normed = hidden.select(1, hidden.size(1) - 1);  // [B, d_t]: the h_g slot
    at::Tensor o = normed;
    if (dir_.adapter_config().text_projection) {
      LMEYE_ASSIGN_OR_RETURN(o, text_->Project(normed));
    }
    at::Tensor h_d = adapter_->Transmit(o);  // [B, d_L]
    if (trace != nullptr) {
      trace->h_R = h_R;
      trace->h_f = h_f;
      trace->interaction_input =
          positions ? rows + text_->PositionEmbeddings().narrow(0, 0, rows.size(1)).to(rows.dtype())
                    : rows;
      trace->interaction_hidden = hidden;
      trace->output_normed = normed;
      trace->output = o;
    }
    return h_d;
  });
}

}  // namespace lmeye
