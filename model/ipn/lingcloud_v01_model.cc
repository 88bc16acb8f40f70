#include "model/ipn/lingcloud_v01_model.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/io/checkpoint.h"
#include "model/llm/t5_config.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<LingcloudV01Model>> LingcloudV01Model::Load(
    const std::string& dir, const LmeyeLoadOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(ModelDir opened, ModelDir::Open(dir));
  return Load(opened, options);
}

absl::StatusOr<std::unique_ptr<LingcloudV01Model>> LingcloudV01Model::Load(
    const ModelDir& dir, const LmeyeLoadOptions& options) {
  auto model = std::unique_ptr<LingcloudV01Model>(new LingcloudV01Model());
  model->dir_ = dir;
  const ModelDir& layout = model->dir_;
  const IpnAdapterConfig& ac = layout.adapter_config();
  if (ac.layout != AdapterLayout::kLingcloudV01) {
    return absl::InvalidArgumentError(
        absl::StrCat(layout.adapter_config_file(), ": not layout \"lingcloud-v0.1\""));
  }
  if (ac.vision != ac.llm) {
    return absl::InvalidArgumentError(absl::StrCat(
        layout.adapter_config_file(),
        ": \"vision\" and \"llm\" must name the same Blip2 directory (layout lingcloud-v0.1)"));
  }
  // One Blip2 directory holds the vision tower, the Q-Former and T5: open it once.
  const std::string blip2_dir = layout.llm_dir();
  LMEYE_ASSIGN_OR_RETURN(model->blip2_config_, LoadBlip2Config(blip2_dir));
  std::string t5_prefix;
  LMEYE_ASSIGN_OR_RETURN(T5Config t5_config, LoadT5Config(blip2_dir, &t5_prefix));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(blip2_dir));
  Blip2RuntimeOptions blip2_options;
  blip2_options.dtype = options.dtype;
  blip2_options.device = options.device;
  LMEYE_ASSIGN_OR_RETURN(model->vision_,
                         Blip2VisionTower::Load(model->blip2_config_.vision, *ckpt, blip2_options));
  LMEYE_ASSIGN_OR_RETURN(model->qformer_,
                         Blip2QFormer::Load(model->blip2_config_, *ckpt, blip2_options));
  LlmLoadOptions t5_options;
  t5_options.dtype = options.dtype;
  t5_options.device = options.device;
  LMEYE_ASSIGN_OR_RETURN(model->t5_, T5Model::Load(t5_config, *ckpt, t5_prefix, t5_options));
  ClipRuntimeOptions clip_options;
  clip_options.dtype = options.dtype;
  clip_options.device = options.device;
  LMEYE_ASSIGN_OR_RETURN(model->text_, ClipTextTower::Load(layout.text_dir(), clip_options));

  LingcloudV01Dims dims;
  dims.d_model = t5_config.d_model;
  dims.d_qformer = model->blip2_config_.qformer.hidden_size;
  dims.d_clip = model->text_->hidden_size();
  dims.imgd_len = ac.lingcloud_v0_1.imgd_len;
  for (const auto& [name, id] :
       {std::pair<const char*, int64_t>{"imgd_token_id", ac.lingcloud_v0_1.imgd_token_id},
        {"imgq_token_id", ac.lingcloud_v0_1.imgq_token_id}}) {
    if (id >= t5_config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(layout.adapter_config_file(), ": lingcloud_v0_1.", name, " ", id,
                       " is outside T5's ", t5_config.vocab_size, " embedding rows"));
    }
  }
  LMEYE_ASSIGN_OR_RETURN(
      LingcloudV01Adapter adapter,
      LoadLingcloudV01Adapter(layout.adapter_weights_file(), dims, options.dtype));
  adapter->to(options.device);
  LMEYE_ASSIGN_OR_RETURN(
      model->ipn_, LingcloudV01Ipn::Create(std::move(adapter), model->text_.get(),
                                           model->blip2_config_.n_query_tokens, ac.lingcloud_v0_1));
  return model;
}

absl::StatusOr<at::Tensor> LingcloudV01Model::ImageQueries(const at::Tensor& pixel_values) const {
  torch::NoGradGuard no_grad;
  LMEYE_ASSIGN_OR_RETURN(Blip2VisionOutput image, vision_->Forward(pixel_values));
  return qformer_->Forward(image.last_hidden_state);
}

}  // namespace lmeye
