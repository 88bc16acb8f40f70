#include "model/generate/logits_processor.h"

#include <algorithm>
#include <limits>

namespace lmeye {

void RepetitionPenaltyProcessor::Process(absl::Span<const int64_t> history,
                                         at::Tensor& logits) const {
  const int64_t vocab = logits.size(0);
  std::vector<int64_t> ids;
  ids.reserve(history.size());
  for (int64_t id : history) {
    if (id >= 0 && id < vocab) ids.push_back(id);
  }
  if (ids.empty()) return;
  // Each distinct token is penalised once, however often it occurred (HF gathers and scatters).
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  at::Tensor index = at::tensor(ids, at::kLong).to(logits.device());
  at::Tensor score = logits.index_select(0, index);
  score = at::where(score < 0, score * penalty_, score / penalty_);
  logits.index_copy_(0, index, score);
}

void TemperatureProcessor::Process(absl::Span<const int64_t>, at::Tensor& logits) const {
  logits.div_(temperature_);
}

void TopKProcessor::Process(absl::Span<const int64_t>, at::Tensor& logits) const {
  const int64_t k = std::min<int64_t>(std::max(k_, 1), logits.size(0));
  if (k == logits.size(0)) return;
  at::Tensor kth = std::get<0>(logits.topk(k)).index({k - 1});
  logits.masked_fill_(logits < kth, -std::numeric_limits<float>::infinity());
}

void TopPProcessor::Process(absl::Span<const int64_t>, at::Tensor& logits) const {
  if (top_p_ >= 1.0) return;
  auto sorted = logits.sort(/*dim=*/0, /*descending=*/false);
  at::Tensor cumulative = std::get<0>(sorted).softmax(0).cumsum(0);
  at::Tensor remove = cumulative <= (1.0 - top_p_);
  remove.index_put_({-1}, false);  // min_tokens_to_keep = 1
  at::Tensor removed = std::get<1>(sorted).masked_select(remove);
  logits.index_fill_(0, removed, -std::numeric_limits<float>::infinity());
}

std::vector<std::unique_ptr<LogitsProcessor>> MakeLogitsProcessors(const SamplingParams& params) {
  std::vector<std::unique_ptr<LogitsProcessor>> out;
  if (params.repetition_penalty != 1.0) {
    out.push_back(std::make_unique<RepetitionPenaltyProcessor>(params.repetition_penalty));
  }
  if (params.greedy()) return out;
  if (params.temperature != 1.0) {
    out.push_back(std::make_unique<TemperatureProcessor>(params.temperature));
  }
  if (params.top_k > 0) out.push_back(std::make_unique<TopKProcessor>(params.top_k));
  if (params.top_p < 1.0) out.push_back(std::make_unique<TopPProcessor>(params.top_p));
  return out;
}

}  // namespace lmeye
