#include "model/ipn/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/ipn/decoder_engine.h"
#include "model/ipn/seq2seq_engine.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<IpnEngine>> IpnEngine::Create(LmeyeModel* model,
                                                             const EngineOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("IpnEngine: no model");
  if (model->lingcloud_v01() != nullptr) return Seq2SeqIpnEngine::Create(model, options);
  return DecoderIpnEngine::Create(model, options);
}

absl::Status CheckPhase(const std::vector<IpnSequence*>& seqs, IpnPhase phase,
                        absl::string_view call) {
  for (const IpnSequence* s : seqs) {
    if (s == nullptr || s->phase != phase) {
      return absl::FailedPreconditionError(
          absl::StrCat(call, ": a sequence is not in the phase this call expects"));
    }
  }
  return absl::OkStatus();
}

std::vector<int64_t> IpnSequence::position_keys() const {
  std::vector<int64_t> keys(prefix.begin(), prefix.end());
  if (has_image) keys.push_back(kImagePositionKey);
  keys.insert(keys.end(), text.begin(), text.end());
  if (!interactive()) {
    for (int id : tail) keys.push_back(id == kSlotPosition ? kSlotPositionKey : id);
  }
  return keys;
}

std::vector<int64_t> IpnSequence::prompt_token_ids() const {
  std::vector<int64_t> ids(prefix.begin(), prefix.end());
  ids.insert(ids.end(), text.begin(), text.end());
  for (int id : tail) {
    if (id != kSlotPosition) ids.push_back(id);
  }
  return ids;
}

std::pair<at::Tensor, at::Tensor> RightPadded(const std::vector<at::Tensor>& rows) {
  int64_t t_max = 0;
  for (const at::Tensor& row : rows) t_max = std::max<int64_t>(t_max, row.size(0));
  const int64_t batch = static_cast<int64_t>(rows.size());
  at::Tensor embeds = at::zeros({batch, t_max, rows[0].size(1)}, rows[0].options());
  at::Tensor mask = at::zeros({batch, t_max}, at::kLong);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = rows[b].size(0);
    embeds[b].narrow(0, 0, n).copy_(rows[b]);
    mask[b].narrow(0, 0, n).fill_(1);
  }
  return {embeds, mask};
}

}  // namespace lmeye
