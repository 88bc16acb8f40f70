#include "model/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/generate/greedy_rows.h"

namespace lmeye {
namespace {

// Index of the largest value (the first among ties, like torch.argmax); -1 if none is > -inf.
int64_t ArgMax(absl::Span<const float> x) {
  int64_t best = -1;
  float best_value = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] > best_value) {  // NaN never wins
      best_value = x[i];
      best = static_cast<int64_t>(i);
    }
  }
  return best;
}

// A [V] float tensor over host memory the caller keeps alive (no copy). ATen's vectorised
// kernels do the exp-heavy work: a scalar exp per token would dominate sampling time.
at::Tensor HostRow(absl::Span<const float> x) {
  return at::from_blob(const_cast<float*>(x.data()), {static_cast<int64_t>(x.size())}, at::kFloat);
}

}  // namespace

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

int64_t Sampler::Draw(absl::Span<const float> processed) {
  const int64_t best = ArgMax(processed);
  if (best < 0) return -1;
  at::Tensor probs = HostRow(processed).softmax(0);
  const float* p = probs.data_ptr<float>();
  double total = 0.0;
  for (size_t i = 0; i < processed.size(); ++i) total += p[i];
  // 53 random bits -> u in [0, 1): the same on every platform for a given seed.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double cumulative = 0.0;
  int64_t last_positive = best;
  for (size_t i = 0; i < processed.size(); ++i) {
    if (!(p[i] > 0.0f)) continue;
    cumulative += p[i];
    last_positive = static_cast<int64_t>(i);
    if (cumulative > target) return last_positive;
  }
  return last_positive;  // rounding left the target at the very top
}

absl::StatusOr<SampledToken> Sampler::SampleHostRow(absl::Span<const float> row,
                                                    absl::Span<const int64_t> history) {
  return GuardTorch("sampling", [&]() -> absl::StatusOr<SampledToken> {
    if (plain_greedy()) {
      // The batch's kernel on this one row: a request's greedy tokens and log-probabilities
      // are the same bits alone (Generate) as in the scheduler's batches.
      LMEYE_ASSIGN_OR_RETURN(std::vector<SampledToken> one, GreedyRows(HostRow(row).unsqueeze(0)));
      return one[0];
    }
    std::vector<float> processed(row.begin(), row.end());
    for (const auto& processor : processors_) {
      processor->Process(history, absl::MakeSpan(processed));
    }
    SampledToken out;
    out.token = params_.greedy() ? ArgMax(processed) : Draw(processed);
    if (out.token < 0 || !std::isfinite(row[out.token])) {
      return absl::InternalError("sampling: no finite logit to choose from");
    }
    out.logprob = row[out.token] - HostRow(row).logsumexp(0).item<float>();
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
  return SampleHostRow(absl::MakeConstSpan(row.data_ptr<float>(), row.numel()), history);
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
  for (Sampler* s : samplers) {
    if (s == nullptr) return absl::InvalidArgumentError("SampleBatch: null sampler");
  }
  const bool all_greedy = std::all_of(samplers.begin(), samplers.end(),
                                      [](const Sampler* s) { return s->plain_greedy(); });
  if (all_greedy && !logits.is_cpu()) {
    // An all-greedy batch on an accelerator: reduce there and copy 2 x [B] values, not [B, V].
    return GuardTorch("batched sampling", [&]() -> absl::StatusOr<std::vector<SampledToken>> {
      at::Tensor x = logits.to(at::kFloat);
      at::Tensor best = x.argmax(1);                                               // [B]
      at::Tensor lp = x.gather(1, best.unsqueeze(1)).squeeze(1) - x.logsumexp(1);  // [B]
      best = best.to(at::kCPU);
      lp = lp.to(at::kCPU);
      std::vector<SampledToken> out(batch);
      for (int64_t b = 0; b < batch; ++b) {
        out[b].token = best[b].item<int64_t>();
        out[b].logprob = lp[b].item<float>();
        if (!std::isfinite(out[b].logprob)) {
          return absl::InternalError("sampling: no finite logit to choose from");
        }
      }
      return out;
    });
  }
  if (all_greedy && GreedyRowsSupported(logits)) {
    // Read where they lie, in their dtype: the copy to float32 and a scan per row would cost
    // more than the rest of the batch's sampling (greedy_rows.h).
    return GreedyRows(logits);
  }
  LMEYE_ASSIGN_OR_RETURN(at::Tensor rows,
                         GuardTorch("batched sampling", [&]() -> absl::StatusOr<at::Tensor> {
                           return logits.to(at::kCPU, at::kFloat).contiguous();  // [B, V]
                         }));
  const int64_t vocab = rows.size(1);
  const float* data = rows.data_ptr<float>();
  std::vector<SampledToken> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    LMEYE_ASSIGN_OR_RETURN(out[b], samplers[b]->SampleHostRow(
                                       absl::MakeConstSpan(data + b * vocab, vocab), histories[b]));
  }
  return out;
}

}  // namespace lmeye
