#include "model/ipn/lingcloud_v0_ipn.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

absl::Status WidthError(absl::string_view what, int64_t adapter, absl::string_view backbone,
                        int64_t width) {
  return absl::InvalidArgumentError(absl::StrCat("LingCloud v0 adapter: ", what, " is ", adapter,
                                                 " wide but ", backbone, " is ", width));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LingcloudV0Ipn>> LingcloudV0Ipn::Create(
    LingcloudV0Adapter adapter, const ClipTextTower* text, const LlmModel* llm,
    const LingcloudV0Config& options) {
  if (text == nullptr || llm == nullptr || adapter.is_empty()) {
    return absl::InvalidArgumentError("LingcloudV0Ipn: needs the adapter, text tower and LLM");
  }
  const LingcloudV0Dims& d = adapter->dims();
  if (d.d_clip != text->hidden_size()) {
    return WidthError("the CLIP width", d.d_clip, "the CLIP text tower", text->hidden_size());
  }
  if (!text->has_projection() || text->config().projection_dim != d.d_clip) {
    return WidthError("the CLIP width", d.d_clip, "the CLIP text projection",
                      text->has_projection() ? text->config().projection_dim : 0);
  }
  if (d.d_l != llm->config().embed_dim) {
    return WidthError("the LLM width", d.d_l, "the LLM's embeddings", llm->config().embed_dim);
  }
  if (d.prompt_len + 3 > text->config().max_position_embeddings) {
    return absl::InvalidArgumentError(
        absl::StrCat("LingCloud v0 adapter: prompt_len + 3 = ", d.prompt_len + 3,
                     " interaction rows exceed the CLIP text tower's ",
                     text->config().max_position_embeddings, " positions"));
  }
  for (const auto& [name, id, vocab] :
       {std::tuple<const char*, int64_t, int64_t>{"img_token_id", options.img_token_id,
                                                  llm->config().vocab_size},
        {"imgd_token_id", options.imgd_token_id, llm->config().vocab_size},
        {"clip_bos_id", options.clip_bos_id, text->config().vocab_size},
        {"clip_eos_id", options.clip_eos_id, text->config().vocab_size}}) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("LingCloud v0 adapter: ", name, " ", id,
                                                     " is outside the vocabulary of ", vocab));
    }
  }
  auto ipn = std::unique_ptr<LingcloudV0Ipn>(new LingcloudV0Ipn(std::move(adapter), text, options));
  LMEYE_ASSIGN_OR_RETURN(
      at::Tensor rows,
      llm->EmbedTokens(
          at::tensor(std::vector<int64_t>{options.img_token_id, options.imgd_token_id}, at::kLong)
              .view({1, -1})));
  ipn->img_row_ = rows[0][0];
  ipn->imgd_row_ = rows[0][1];
  LMEYE_ASSIGN_OR_RETURN(
      ipn->clip_ends_,
      text->TokenEmbeddings(
          at::tensor(std::vector<int64_t>{options.clip_bos_id, options.clip_eos_id}, at::kLong)));
  return ipn;
}

at::Tensor LingcloudV0Ipn::EffectiveEmbeddingImg() const {
  return options_.embedding_img_from == "embedding_imgd" ? adapter_->embedding_imgd
                                                         : adapter_->embedding_img;
}

absl::StatusOr<at::Tensor> LingcloudV0Ipn::ImagePosition(const at::Tensor& feat) const {
  if (!feat.defined() || feat.dim() != 2 || feat.size(1) != adapter_->dims().d_clip) {
    return absl::InvalidArgumentError(
        absl::StrCat("LingCloud v0: the image feature must be [B, ", adapter_->dims().d_clip, "]"));
  }
  return GuardTorch("LingCloud v0 image prompt", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor img_prompt = net().imgLinear(feat.to(img_row_.scalar_type()));  // [B, d_L]
    return img_row_.unsqueeze(0) + img_prompt + EffectiveEmbeddingImg();
  });
}

absl::StatusOr<at::Tensor> LingcloudV0Ipn::FirstPassSlot() const {
  return GuardTorch("LingCloud v0 <img-d> row", [&]() -> absl::StatusOr<at::Tensor> {
    return imgd_row_ + adapter_->embedding_imgd.view({-1});
  });
}

absl::StatusOr<at::Tensor> LingcloudV0Ipn::Interact(const at::Tensor& feat, const at::Tensor& h,
                                                    LingcloudV0Trace* trace) const {
  const LingcloudV0Dims& d = adapter_->dims();
  if (!feat.defined() || !h.defined() || feat.dim() != 2 || feat.size(1) != d.d_clip ||
      h.dim() != 2 || h.size(1) != d.d_l || h.size(0) != feat.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LingCloud v0 interaction: the image feature must be [B, ", d.d_clip,
                     "] and the LLM state [B, ", d.d_l, "]"));
  }
  const int64_t rows = d.prompt_len + 3;
  const at::Tensor& ends = clip_ends_;  // [2, clip]
  return GuardTorch("LingCloud v0 interaction", [&]() -> absl::StatusOr<at::Tensor> {
    const int64_t batch = feat.size(0);
    const at::ScalarType dtype = imgd_row_.scalar_type();
    at::Tensor pre_query = net().llm2clip(h.to(dtype));  // [B, clip]
    at::Tensor soft = net().promptMlp(feat.to(dtype)).view({batch, d.prompt_len, d.d_clip});
    // bos at position 0 and eos at position P+2 carry their positions; the P soft rows and the
    // request between them take none (the release replaces the "!" rows' whole embedding).
    at::Tensor positions = text_->PositionEmbeddings().narrow(0, 0, rows).to(dtype);
    at::Tensor bos = (ends[0].to(dtype) + positions[0]).expand({batch, 1, d.d_clip});
    at::Tensor eos = (ends[1].to(dtype) + positions[rows - 1]).expand({batch, 1, d.d_clip});
    at::Tensor x = at::cat({bos, soft, pre_query.unsqueeze(1), eos}, 1);  // [B, P+3, clip]
    LMEYE_ASSIGN_OR_RETURN(at::Tensor hidden, text_->ForwardEmbeds(x, /*add_positions=*/false));
    at::Tensor pooled = hidden.select(1, rows - 1);  // the <|endoftext|> row, the highest id
    LMEYE_ASSIGN_OR_RETURN(at::Tensor feature, text_->Project(pooled));
    at::Tensor imgd_prompt = net().imgdLinear(feature.to(dtype)).view({batch, d.query_len, d.d_l});
    if (trace != nullptr) {
      trace->pre_query = pre_query;
      trace->soft_prompt = soft;
      trace->clip_base_embeds = at::Tensor();  // only rows 0 and P+2 are used; see bos/eos
      trace->clip_input = x;
      trace->clip_last_hidden = hidden;
      trace->clip_pooled = pooled;
      trace->clip_text_feature = feature;
      trace->imgd_prompt = imgd_prompt;
    }
    return imgd_row_.view({1, 1, -1}) + imgd_prompt + adapter_->embedding_imgd.view({1, 1, -1});
  });
}

}  // namespace lmeye
