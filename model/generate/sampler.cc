#include "model/generate/sampler.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<Sampler>> Sampler::Create(const SamplingParams& params) {
  LMEYE_RETURN_IF_ERROR(params.Validate());
  uint64_t seed;
  if (params.seed.has_value()) {
    seed = *params.seed;
  } else {
    std::random_device device;
    seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  return std::unique_ptr<Sampler>(new Sampler(params, seed));
}

Sampler::Sampler(const SamplingParams& params, uint64_t seed)
    : params_(params), processors_(MakeLogitsProcessors(params)), seed_(seed), rng_(seed) {}

int64_t Sampler::Draw(const at::Tensor& processed) {
  at::Tensor probs = processed.to(at::kDouble).softmax(0).contiguous();
  const double* p = probs.data_ptr<double>();
  const int64_t n = probs.size(0);
  // 53 random bits -> u in [0, 1): the same on every platform for a given seed.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += p[i];
  const double target = u * total;
  double cumulative = 0.0;
  int64_t last_positive = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] <= 0.0) continue;
    cumulative += p[i];
    last_positive = i;
    if (cumulative > target) return i;
  }
  return last_positive;  // rounding left target at the very top
}

absl::StatusOr<SampledToken> Sampler::SampleCpuRow(const at::Tensor& row,
                                                   const at::Tensor& logprobs,
                                                   absl::Span<const int64_t> history) {
  return GuardTorch("sampling", [&]() -> absl::StatusOr<SampledToken> {
    SampledToken out;
    if (processors_.empty() && params_.greedy()) {
      out.token = row.argmax().item<int64_t>();
    } else {
      at::Tensor processed = row.clone();
      for (const auto& processor : processors_) processor->Process(history, processed);
      if (params_.greedy()) {
        out.token = processed.argmax().item<int64_t>();
      } else {
        out.token = Draw(processed);
      }
    }
    if (out.token < 0 || !std::isfinite(row[out.token].item<float>())) {
      return absl::InternalError("sampling: no finite logit to choose from");
    }
    out.logprob = logprobs[out.token].item<float>();
    return out;
  });
}

absl::StatusOr<SampledToken> Sampler::Sample(const at::Tensor& logits,
                                             absl::Span<const int64_t> history) {
  if (!logits.defined() || logits.dim() != 1 || logits.size(0) == 0) {
    return absl::InvalidArgumentError("Sampler::Sample needs logits of shape [V]");
  }
  LMEYE_ASSIGN_OR_RETURN(at::Tensor row,
                         GuardTorch("sampling", [&]() -> absl::StatusOr<at::Tensor> {
                           return logits.to(at::kCPU, at::kFloat).contiguous();
                         }));
  return SampleCpuRow(row, row.log_softmax(0), history);
}

absl::StatusOr<std::vector<SampledToken>> SampleBatch(
    const at::Tensor& logits, absl::Span<Sampler* const> samplers,
    absl::Span<const absl::Span<const int64_t>> histories) {
  if (!logits.defined() || logits.dim() != 2) {
    return absl::InvalidArgumentError("SampleBatch needs logits of shape [B, V]");
  }
  const int64_t batch = logits.size(0);
  if (static_cast<int64_t>(samplers.size()) != batch ||
      static_cast<int64_t>(histories.size()) != batch) {
    return absl::InvalidArgumentError(absl::StrCat("SampleBatch: ", batch, " rows but ",
                                                   samplers.size(), " samplers and ",
                                                   histories.size(), " histories"));
  }
  std::vector<SampledToken> out(batch);
  LMEYE_RETURN_IF_ERROR(GuardTorch("batched sampling", [&]() -> absl::Status {
    at::Tensor rows = logits.to(at::kCPU, at::kFloat).contiguous();  // [B, V]
    at::Tensor logprobs = rows.log_softmax(1);                       // [B, V]
    // Plain-greedy rows need no per-request state: one argmax over the batch.
    at::Tensor argmax = rows.argmax(1);  // [B]
    const int64_t* best = argmax.data_ptr<int64_t>();
    const float* lp = logprobs.data_ptr<float>();
    const int64_t vocab = rows.size(1);
    for (int64_t b = 0; b < batch; ++b) {
      if (samplers[b] == nullptr) return absl::InvalidArgumentError("SampleBatch: null sampler");
      if (samplers[b]->plain_greedy()) {
        out[b].token = best[b];
        out[b].logprob = lp[b * vocab + best[b]];
        if (!std::isfinite(out[b].logprob)) {
          return absl::InternalError("sampling: no finite logit to choose from");
        }
        continue;
      }
      LMEYE_ASSIGN_OR_RETURN(out[b], samplers[b]->SampleCpuRow(rows[b], logprobs[b], histories[b]));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace lmeye
