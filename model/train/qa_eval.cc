#include "model/train/qa_eval.h"

#include <algorithm>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "model/common/status_macros.h"
#include "model/ipn/engine.h"

namespace lmeye {

std::string NormalizeAnswer(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (!s.empty() && s.back() == '.') s.pop_back();
  std::vector<absl::string_view> words = absl::StrSplit(s, ' ', absl::SkipWhitespace());
  return absl::StrJoin(words, " ");
}

absl::StatusOr<QaEvalResult> EvaluateShortAnswers(LmeyeModel& model, const Tokenizer& tokenizer,
                                                  const std::vector<const TrainExample*>& examples,
                                                  const at::Tensor& features, int max_answer_tokens,
                                                  int batch) {
  torch::NoGradGuard no_grad;
  const int eos = tokenizer.eos_id();
  std::vector<const TrainExample*> qa;
  int capacity = 0;
  for (const TrainExample* e : examples) {
    const int n_answer = static_cast<int>(e->target.size()) - (e->target.back() == eos ? 1 : 0);
    if (!e->slot || n_answer < 1 || n_answer > max_answer_tokens) continue;
    qa.push_back(e);
    capacity = std::max(capacity, static_cast<int>(e->prefix.size() + e->text.size()) + 2);
  }
  QaEvalResult result;
  if (qa.empty()) return result;
  const int max_new = max_answer_tokens + 1;  // room to overshoot, which is a miss
  EngineOptions options;
  options.n_slots = batch;
  options.capacity = capacity + max_new;
  LMEYE_ASSIGN_OR_RETURN(auto engine, IpnEngine::Create(&model, options));
  for (size_t start = 0; start < qa.size(); start += batch) {
    const size_t end = std::min(qa.size(), start + batch);
    std::vector<IpnSequence> seqs(end - start);
    std::vector<IpnSequence*> ptrs;
    for (size_t i = start; i < end; ++i) {
      IpnSequence& s = seqs[i - start];
      s.h_i = features[qa[i]->image].to(model.llm().device());  // the engine's device
      s.prefix = qa[i]->prefix;
      s.text = qa[i]->text;
      ptrs.push_back(&s);
    }
    LMEYE_RETURN_IF_ERROR(engine->FirstPass(ptrs));
    LMEYE_RETURN_IF_ERROR(engine->Interact(ptrs));
    LMEYE_RETURN_IF_ERROR(engine->SecondPass(ptrs));
    at::Tensor logits = at::stack([&] {
      std::vector<at::Tensor> rows;
      for (IpnSequence* s : ptrs) rows.push_back(s->next_logits);
      return rows;
    }());  // [B, V]
    std::vector<std::vector<int>> answers(ptrs.size());
    std::vector<bool> done(ptrs.size(), false);
    for (int t = 0; t < max_new; ++t) {
      at::Tensor next = logits.argmax(-1).cpu();
      std::vector<int> slots;
      std::vector<int64_t> tokens;
      for (size_t b = 0; b < ptrs.size(); ++b) {
        if (done[b]) continue;
        const int token = static_cast<int>(next[b].item<int64_t>());
        if (token == eos) {
          done[b] = true;
          continue;
        }
        answers[b].push_back(token);
        slots.push_back(ptrs[b]->slot);
        tokens.push_back(token);
      }
      if (slots.empty() || t + 1 == max_new) break;
      LMEYE_ASSIGN_OR_RETURN(at::Tensor step, engine->DecodeStep(slots, tokens));
      // Scatter the running rows' logits back to their batch rows.
      size_t k = 0;
      for (size_t b = 0; b < ptrs.size(); ++b) {
        if (!done[b]) logits[b].copy_(step[k++]);
      }
    }
    for (size_t b = 0; b < ptrs.size(); ++b) {
      std::vector<int> target = qa[start + b]->target;
      if (!target.empty() && target.back() == eos) target.pop_back();
      LMEYE_ASSIGN_OR_RETURN(std::string got, tokenizer.Decode(answers[b]));
      LMEYE_ASSIGN_OR_RETURN(std::string want, tokenizer.Decode(target));
      ++result.n;
      result.correct += done[b] && NormalizeAnswer(got) == NormalizeAnswer(want);
      engine->Release(*ptrs[b]);
    }
  }
  return result;
}

}  // namespace lmeye
