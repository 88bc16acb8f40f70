#include "model/generate/generation_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<GenerationStream>> GenerationStream::Create(
    const SamplingParams& params, const Tokenizer* tokenizer, std::vector<int64_t> prompt_ids,
    bool at_text_start) {
  if (tokenizer == nullptr && !params.stop.empty()) {
    return absl::InvalidArgumentError("stop: stop strings need a tokenizer");
  }
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Sampler> sampler, Sampler::Create(params));
  return std::unique_ptr<GenerationStream>(
      new GenerationStream(std::move(sampler), tokenizer, std::move(prompt_ids), at_text_start));
}

GenerationStream::GenerationStream(std::unique_ptr<Sampler> sampler, const Tokenizer* tokenizer,
                                   std::vector<int64_t> prompt_ids, bool at_text_start)
    : sampler_(std::move(sampler)),
      tokenizer_(tokenizer),
      stop_(sampler_->params().stop),
      history_(std::move(prompt_ids)),
      n_prompt_(history_.size()) {
  if (tokenizer_ != nullptr) decoder_.emplace(tokenizer_, at_text_start);
  history_.reserve(n_prompt_ + sampler_->params().max_new_tokens);
}

bool GenerationStream::IsEos(int64_t token) const {
  const SamplingParams& p = sampler_->params();
  return !p.ignore_eos &&
         std::find(p.eos_token_ids.begin(), p.eos_token_ids.end(), token) != p.eos_token_ids.end();
}

absl::StatusOr<StreamStep> GenerationStream::Advance(const at::Tensor& logits) {
  if (finished()) return absl::FailedPreconditionError("generation stream already finished");
  LMEYE_ASSIGN_OR_RETURN(SampledToken sampled, sampler_->Sample(logits, history_));
  return Accept(sampled);
}

void GenerationStream::Drain(std::string* out) {
  if (!decoder_.has_value()) return;
  std::string tail;
  decoder_->Flush(&tail);
  out->append(stop_.Push(tail));
  if (stop_.stopped()) {
    reason_ = FinishReason::kStop;
  } else {
    out->append(stop_.Flush());
  }
}

absl::StatusOr<StreamStep> GenerationStream::Accept(const SampledToken& sampled) {
  if (finished()) return absl::FailedPreconditionError("generation stream already finished");
  StreamStep step;
  step.token = sampled.token;
  step.logprob = sampled.logprob;
  history_.push_back(sampled.token);
  logprobs_.push_back(sampled.logprob);
  const bool eos = IsEos(sampled.token);
  // Ids beyond the tokenizer (models pad their vocabulary, e.g. OPT's 50272 rows for 50265
  // tokens) have no text; only a random-weight model picks them.
  if (!eos && decoder_.has_value() && sampled.token < tokenizer_->vocab_size()) {
    std::string delta;
    LMEYE_RETURN_IF_ERROR(decoder_->Push(static_cast<int>(sampled.token), &delta));
    step.text = stop_.Push(delta);
    if (stop_.stopped()) reason_ = FinishReason::kStop;
  }
  if (!finished() && eos) reason_ = FinishReason::kEos;
  if (!finished() && n_generated_tokens() >= sampler_->params().max_new_tokens) {
    reason_ = FinishReason::kLength;
  }
  if (finished() && reason_ != FinishReason::kStop) Drain(&step.text);
  step.finished = finished();
  step.reason = reason_;
  text_.append(step.text);
  return step;
}

std::string GenerationStream::Finish(FinishReason reason) {
  if (finished()) return "";
  reason_ = reason;
  std::string out;
  Drain(&out);
  text_.append(out);
  return out;
}

absl::StatusOr<std::vector<StreamStep>> AdvanceBatch(const at::Tensor& logits,
                                                     absl::Span<GenerationStream* const> streams) {
  std::vector<Sampler*> samplers;
  std::vector<absl::Span<const int64_t>> histories;
  for (GenerationStream* stream : streams) {
    if (stream == nullptr || stream->finished()) {
      return absl::FailedPreconditionError("AdvanceBatch: a stream is null or finished");
    }
    samplers.push_back(&stream->sampler());
    histories.push_back(stream->history());
  }
  LMEYE_ASSIGN_OR_RETURN(std::vector<SampledToken> sampled,
                         SampleBatch(logits, samplers, histories));
  std::vector<StreamStep> steps;
  steps.reserve(streams.size());
  for (size_t b = 0; b < streams.size(); ++b) {
    LMEYE_ASSIGN_OR_RETURN(StreamStep step, streams[b]->Accept(sampled[b]));
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace lmeye
