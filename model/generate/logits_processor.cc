#include "model/generate/logits_processor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <ATen/ATen.h>

namespace lmeye {
namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

}  // namespace

void RepetitionPenaltyProcessor::Process(absl::Span<const int64_t> history,
                                         absl::Span<float> logits) const {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  std::vector<int64_t> ids;
  ids.reserve(history.size());
  for (int64_t id : history) {
    if (id >= 0 && id < vocab) ids.push_back(id);
  }
  // Each distinct token is penalised once, however often it occurred (HF gathers and scatters).
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const float penalty = static_cast<float>(penalty_);
  for (int64_t id : ids) {
    float& x = logits[id];
    x = x < 0 ? x * penalty : x / penalty;
  }
}

void TemperatureProcessor::Process(absl::Span<const int64_t>, absl::Span<float> logits) const {
  const float t = static_cast<float>(temperature_);
  for (float& x : logits) x /= t;
}

void TopKProcessor::Process(absl::Span<const int64_t>, absl::Span<float> logits) const {
  const size_t k = std::min<size_t>(std::max(k_, 1), logits.size());
  if (k == logits.size()) return;
  std::vector<float> values(logits.begin(), logits.end());
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
  const float kth = values[k - 1];
  for (float& x : logits) {
    if (x < kth) x = kRemoved;
  }
}

void TopPProcessor::Process(absl::Span<const int64_t>, absl::Span<float> logits) const {
  if (top_p_ >= 1.0 || logits.empty()) return;
  const float max = *std::max_element(logits.begin(), logits.end());
  if (!std::isfinite(max)) return;
  // ATen's vectorised softmax: a scalar exp per token costs more than the rest together.
  at::Tensor prob_tensor =
      at::from_blob(logits.data(), {static_cast<int64_t>(logits.size())}, at::kFloat).softmax(0);
  const float* prob = prob_tensor.data_ptr<float>();
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) total += prob[i];
  // The kept set is the top of the distribution; sort only as deep as needed, doubling.
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  auto by_prob = [prob](int a, int b) { return prob[a] > prob[b]; };
  const double limit = top_p_ * total;
  size_t depth = std::min<size_t>(64, order.size());
  while (true) {
    std::partial_sort(order.begin(), order.begin() + depth, order.end(), by_prob);
    double above = 0.0;
    size_t keep = 0;
    while (keep < depth && above < limit) above += prob[order[keep++]];
    if (above >= limit || depth == order.size()) {
      for (size_t i = keep; i < order.size(); ++i) logits[order[i]] = kRemoved;
      return;
    }
    // Deep nuclei (flat distributions): past a quarter of the vocabulary sort it all at once.
    depth = depth * 2 > order.size() / 4 ? order.size() : depth * 2;
  }
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
