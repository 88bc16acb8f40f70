#include "model/ipn/lingcloud_v01_ipn.h"

#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

absl::Status WidthError(absl::string_view what, int64_t adapter, absl::string_view backbone,
                        int64_t width) {
  return absl::InvalidArgumentError(absl::StrCat("LingCloud v0.1 adapter: ", what, " is ", adapter,
                                                 " wide but ", backbone, " is ", width));
}

// ids [B, L] int64 on the CPU.
absl::StatusOr<at::Tensor> CpuIds(const at::Tensor& ids) {
  if (!ids.defined() || ids.dim() != 2 || ids.scalar_type() != at::kLong) {
    return absl::InvalidArgumentError("LingCloud v0.1: the prompt ids must be [B, L] int64");
  }
  return ids.to(at::kCPU).contiguous();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LingcloudV01Ipn>> LingcloudV01Ipn::Create(
    LingcloudV01Adapter adapter, const ClipTextTower* text, int64_t num_query_tokens,
    const LingcloudV01Config& options) {
  if (text == nullptr || adapter.is_empty()) {
    return absl::InvalidArgumentError("LingcloudV01Ipn: needs the adapter and the CLIP text tower");
  }
  const LingcloudV01Dims& d = adapter->dims();
  if (d.d_clip != text->hidden_size()) {
    return WidthError("the CLIP width", d.d_clip, "the CLIP text tower", text->hidden_size());
  }
  if (!text->has_projection() || text->config().projection_dim != d.d_clip) {
    return WidthError("the CLIP width", d.d_clip, "the CLIP text projection",
                      text->has_projection() ? text->config().projection_dim : 0);
  }
  if (d.imgd_len != options.imgd_len) {
    return absl::InvalidArgumentError(absl::StrCat("LingCloud v0.1 adapter: instruction_blip22clip",
                                                   " makes ", d.imgd_len, " rows but imgd_len is ",
                                                   options.imgd_len));
  }
  const int64_t rows = num_query_tokens + d.imgd_len + 2;
  if (num_query_tokens < 1 || rows > text->config().max_position_embeddings) {
    return absl::InvalidArgumentError(
        absl::StrCat("LingCloud v0.1 adapter: ", num_query_tokens, " query tokens + ", d.imgd_len,
                     " request rows + 2 exceed the CLIP text tower's ",
                     text->config().max_position_embeddings, " positions"));
  }
  for (const auto& [name, id] :
       {std::pair<const char*, int64_t>{"clip_bos_id", options.clip_bos_id},
        {"clip_eos_id", options.clip_eos_id}}) {
    if (id < 0 || id >= text->config().vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("LingCloud v0.1 adapter: ", name, " ", id,
                                                     " is outside the CLIP vocabulary of ",
                                                     text->config().vocab_size));
    }
  }
  auto ipn = std::unique_ptr<LingcloudV01Ipn>(
      new LingcloudV01Ipn(std::move(adapter), text, num_query_tokens, options));
  LMEYE_ASSIGN_OR_RETURN(
      at::Tensor ends,
      text->TokenEmbeddings(
          at::tensor(std::vector<int64_t>{options.clip_bos_id, options.clip_eos_id}, at::kLong)));
  at::Tensor positions = text->PositionEmbeddings();
  ipn->clip_bos_row_ = ends[0] + positions[0];
  ipn->clip_eos_row_ = ends[1] + positions[rows - 1];
  return ipn;
}

absl::StatusOr<at::Tensor> LingcloudV01Ipn::LanguageInputs(const at::Tensor& q) const {
  const LingcloudV01Dims& d = adapter_->dims();
  if (!q.defined() || q.dim() != 3 || q.size(1) != num_query_tokens_ || q.size(2) != d.d_qformer) {
    return absl::InvalidArgumentError(
        absl::StrCat("LingCloud v0.1: the Q-Former output must be [B, ", num_query_tokens_, ", ",
                     d.d_qformer, "]"));
  }
  return GuardTorch("LingCloud v0.1 language projection", [&]() -> absl::StatusOr<at::Tensor> {
    return net().language_projection(q.to(net().instruction_embedding_imgd.scalar_type()));
  });
}

absl::StatusOr<at::Tensor> LingcloudV01Ipn::FirstPassInputs(const at::Tensor& lmi,
                                                            const at::Tensor& token_embeds,
                                                            const at::Tensor& ids) const {
  const int64_t d_model = adapter_->dims().d_model;
  if (!lmi.defined() || !token_embeds.defined() || lmi.dim() != 3 || token_embeds.dim() != 3 ||
      lmi.size(1) != num_query_tokens_ || lmi.size(2) != d_model ||
      token_embeds.size(2) != d_model || token_embeds.size(0) != lmi.size(0) || !ids.defined() ||
      ids.dim() != 2 || ids.size(0) != lmi.size(0) || ids.size(1) != token_embeds.size(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LingCloud v0.1 first pass: needs the language inputs [B, ", num_query_tokens_,
                     ", ", d_model, "], token embeddings [B, L, ", d_model, "] and ids [B, L]"));
  }
  return GuardTorch("LingCloud v0.1 first-pass inputs", [&]() -> absl::StatusOr<at::Tensor> {
    const at::ScalarType dtype = net().instruction_embedding_imgd.scalar_type();
    at::Tensor x = at::cat({lmi.to(dtype), token_embeds.to(dtype)}, 1);  // [B, Q+L, d]
    // The release adds by id over cat([Q zeros, ids]); a query row never matches (ids >= 0 and
    // neither marker is id 0), so only the prompt rows can.
    at::Tensor marked = ids.to(x.device());
    at::Tensor imgd = (marked == options_.imgd_token_id).unsqueeze(-1).to(dtype);  // [B, L, 1]
    at::Tensor imgq = (marked == options_.imgq_token_id).unsqueeze(-1).to(dtype);
    at::Tensor added = imgd * net().instruction_embedding_imgd.view({1, 1, -1}) +
                       imgq * net().instruction_embedding_imgq.view({1, 1, -1});
    return x + at::cat({at::zeros_like(x.narrow(1, 0, num_query_tokens_)), added}, 1);
  });
}

absl::StatusOr<std::vector<int64_t>> LingcloudV01Ipn::ImgqRows(const at::Tensor& ids) const {
  LMEYE_ASSIGN_OR_RETURN(at::Tensor cpu, CpuIds(ids));
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < cpu.size(0); ++b) {
    const int64_t* row = cpu[b].data_ptr<int64_t>();
    int64_t found = -1, count = 0;
    for (int64_t t = 0; t < cpu.size(1); ++t) {
      if (row[t] == options_.imgq_token_id) {
        found = t;
        ++count;
      }
    }
    if (count != 1) {
      return absl::InvalidArgumentError(absl::StrCat("LingCloud v0.1: prompt ", b, " has ", count,
                                                     " <img-q> tokens (id ", options_.imgq_token_id,
                                                     "); it needs exactly one"));
    }
    rows.push_back(num_query_tokens_ + found);
  }
  return rows;
}

absl::StatusOr<at::Tensor> LingcloudV01Ipn::Interact(const at::Tensor& q, const at::Tensor& h,
                                                     LingcloudV01Trace* trace) const {
  const LingcloudV01Dims& d = adapter_->dims();
  if (!q.defined() || !h.defined() || q.dim() != 3 || q.size(1) != num_query_tokens_ ||
      q.size(2) != d.d_qformer || h.dim() != 2 || h.size(1) != d.d_model ||
      h.size(0) != q.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LingCloud v0.1 interaction: the Q-Former output must be [B, ", num_query_tokens_, ", ",
        d.d_qformer, "] and the encoder state [B, ", d.d_model, "]"));
  }
  return GuardTorch("LingCloud v0.1 interaction", [&]() -> absl::StatusOr<at::Tensor> {
    const int64_t batch = q.size(0);
    const int64_t n = d.imgd_len;
    const int64_t rows = num_query_tokens_ + n + 2;
    const at::ScalarType dtype = net().instruction_embedding_imgd.scalar_type();
    at::Tensor pre_query = net().instruction_blip22clip(h.to(dtype)).view({batch, n, d.d_clip});
    at::Tensor query_rows = net().instruction_linear(q.to(dtype));  // [B, Q, W]
    // Only the first and last rows carry positions: the release replaces the embeddings of the
    // "!" rows between them whole (docs/LINGCLOUD.md step 4).
    at::Tensor bos = clip_bos_row_.to(dtype).expand({batch, 1, d.d_clip});
    at::Tensor eos = clip_eos_row_.to(dtype).expand({batch, 1, d.d_clip});
    at::Tensor x = at::cat({bos, query_rows, pre_query, eos}, 1);  // [B, Q+n+2, W]
    LMEYE_ASSIGN_OR_RETURN(at::Tensor hidden, text_->ForwardEmbeds(x, /*add_positions=*/false));
    const int64_t first = options_.clip_rows == "last" ? rows - n : num_query_tokens_ + 1;
    LMEYE_ASSIGN_OR_RETURN(at::Tensor feature, text_->Project(hidden.narrow(1, first, n)));
    at::Tensor imgd_prompt = net().instruction_imgdLinear(feature.to(dtype));  // [B, n, d]
    if (trace != nullptr) {
      trace->pre_query = pre_query;
      trace->query_output_linear = query_rows;
      trace->clip_hidden_states = x;
      trace->clip_last_hidden = hidden;
      trace->clip_text_feature = feature;
      trace->imgd_prompt = imgd_prompt;
    }
    return imgd_prompt;
  });
}

absl::StatusOr<at::Tensor> LingcloudV01Ipn::SecondPassInputs(const at::Tensor& first_inputs,
                                                             const at::Tensor& ids,
                                                             const at::Tensor& imgd_prompt) const {
  LMEYE_ASSIGN_OR_RETURN(at::Tensor cpu, CpuIds(ids));
  const int64_t n = adapter_->dims().imgd_len;
  const int64_t batch = cpu.size(0);
  if (!first_inputs.defined() || first_inputs.dim() != 3 || first_inputs.size(0) != batch ||
      first_inputs.size(1) != num_query_tokens_ + cpu.size(1) || !imgd_prompt.defined() ||
      imgd_prompt.dim() != 3 || imgd_prompt.size(0) != batch || imgd_prompt.size(1) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LingCloud v0.1 second pass: needs the first-pass inputs [B, ", num_query_tokens_,
        " + L, d], ids [B, L] and the interaction's rows [B, ", n, ", d]"));
  }
  std::vector<int64_t> batch_index, row_index;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* row = cpu[b].data_ptr<int64_t>();
    int64_t count = 0;
    for (int64_t t = 0; t < cpu.size(1); ++t) {
      if (row[t] != options_.imgd_token_id) continue;
      batch_index.push_back(b);
      row_index.push_back(num_query_tokens_ + t);
      ++count;
    }
    if (count != n) {
      return absl::InvalidArgumentError(absl::StrCat("LingCloud v0.1: prompt ", b, " has ", count,
                                                     " <img-d> tokens (id ", options_.imgd_token_id,
                                                     "); the adapter fills exactly ", n));
    }
  }
  return GuardTorch("LingCloud v0.1 second-pass inputs", [&]() -> absl::StatusOr<at::Tensor> {
    const at::Device device = first_inputs.device();
    at::Tensor b_idx = at::tensor(batch_index, at::kLong).to(device);
    at::Tensor r_idx = at::tensor(row_index, at::kLong).to(device);
    at::Tensor x = first_inputs.clone();
    // Rows are listed per sample in order, so the k-th <img-d> of sample b takes imgd_prompt[b][k].
    x.index_put_({b_idx, r_idx}, imgd_prompt.to(x.scalar_type()).reshape({batch * n, -1}),
                 /*accumulate=*/true);
    return x;
  });
}

}  // namespace lmeye
