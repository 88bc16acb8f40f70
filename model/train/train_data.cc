#include "model/train/train_data.h"

#include <algorithm>
#include <map>
#include <set>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/vision/image_decode.h"

namespace lmeye {
namespace {

// Appends EOS and cuts the target to `room` ids (at least one). False when there is no room.
bool FitTarget(std::vector<int> ids, int eos, int room, std::vector<int>* target) {
  if (room < 1) return false;
  if (eos >= 0) ids.push_back(eos);
  if (static_cast<int>(ids.size()) > room) ids.resize(room);
  if (ids.empty()) return false;
  *target = std::move(ids);
  return true;
}

}  // namespace

int TrainExample::n_positions() const {
  const int n_slot =
      slot ? static_cast<int>(text.size()) + std::max<int>(1, static_cast<int>(tail.size())) : 0;
  return static_cast<int>(prefix.size()) + 1 + n_slot + static_cast<int>(target.size()) - 1;
}

absl::StatusOr<ExampleSet> BuildExamples(const Manifest& manifest, TrainStage stage,
                                         const PromptBuilder& builder, const Tokenizer& tokenizer,
                                         int max_tokens, std::vector<ManifestIssue>* issues,
                                         const std::vector<int>* align_prefix) {
  ExampleSet set;
  std::map<std::string, int> image_index;
  const int eos = tokenizer.eos_id();
  const std::vector<int> prefix =
      align_prefix != nullptr ? *align_prefix : tokenizer.PromptPrefix();
  for (const ManifestRecord& r : manifest.records) {
    auto image = image_index.emplace(r.image, static_cast<int>(set.images.size()));
    if (image.second) set.images.push_back(r.image);
    // (prompt, answer) pairs of this record; X empty for align.
    std::vector<std::pair<IpnPrompt, std::string>> pieces;
    if (stage == TrainStage::kAlign) {
      if (!r.is_caption()) {
        issues->push_back({r.line, "not a caption line (an align manifest holds captions only)"});
        continue;
      }
      IpnPrompt caption;
      caption.prefix = prefix;
      pieces.emplace_back(std::move(caption), r.caption);
    } else if (r.is_vqa()) {
      absl::StatusOr<IpnPrompt> p = builder.AnswerVqa(r.question, VqaStyle::kShort);
      if (!p.ok()) {
        issues->push_back({r.line, absl::StrCat("question: ", p.status().message())});
        continue;
      }
      pieces.emplace_back(*std::move(p), r.answer);
    } else if (r.is_caption()) {
      LMEYE_ASSIGN_OR_RETURN(IpnPrompt p, builder.Describe());
      pieces.emplace_back(std::move(p), r.caption);
    } else {
      for (size_t i = 1; i < r.conversation.size(); i += 2) {
        absl::StatusOr<IpnPrompt> p =
            builder.Chat(absl::MakeConstSpan(r.conversation).subspan(0, i));
        if (!p.ok()) {
          // Over the prompt limit: later turns only grow.
          issues->push_back({r.line, absl::StrCat("answer ", i / 2, ": ", p.status().message())});
          break;
        }
        pieces.emplace_back(*std::move(p), r.conversation[i].text);
      }
    }
    for (auto& [prompt, answer] : pieces) {
      TrainExample e;
      e.image = image.first->second;
      e.slot = stage == TrainStage::kInstruct;
      e.prefix = std::move(prompt.prefix);
      e.text = std::move(prompt.text);
      e.tail = std::move(prompt.tail);
      e.line = r.line;
      absl::StatusOr<std::vector<int>> ids = stage == TrainStage::kAlign
                                                 ? tokenizer.Encode(answer)
                                                 : builder.EncodeContinuation(answer);
      if (!ids.ok()) {
        issues->push_back({r.line, absl::StrCat("tokenizing: ", ids.status().message())});
        continue;
      }
      const int n_slot = e.slot ? static_cast<int>(e.text.size()) +
                                      std::max<int>(1, static_cast<int>(e.tail.size()))
                                : 0;
      // n_positions() = |P| + 1 + n_slot + |target| - 1 <= max_tokens.
      const int room = max_tokens - static_cast<int>(e.prefix.size()) - n_slot;
      if (!FitTarget(*std::move(ids), eos, room, &e.target)) {
        issues->push_back({r.line, absl::StrCat("the prompt leaves no room for the answer within "
                                                "max_tokens ",
                                                max_tokens)});
        continue;
      }
      set.examples.push_back(std::move(e));
    }
  }
  return set;
}

absl::StatusOr<at::Tensor> EncodeImages(const LmeyeModel& model,
                                        const ClipImagePreprocessor& preprocessor,
                                        const std::vector<std::string>& images, int batch,
                                        std::vector<std::pair<int, std::string>>* failed) {
  torch::NoGradGuard no_grad;
  at::Tensor features = at::zeros({static_cast<int64_t>(images.size()), model.dims().d_v});
  std::vector<cv::Mat> pixels;
  std::vector<int64_t> rows;
  auto flush = [&]() -> absl::Status {
    if (pixels.empty()) return absl::OkStatus();
    LMEYE_ASSIGN_OR_RETURN(at::Tensor pv, preprocessor.PreprocessBatch(pixels));
    LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, model.ImageFeature(pv));
    return GuardTorch("storing image features", [&]() -> absl::Status {
      features.index_copy_(0, at::tensor(rows, at::kLong), h_i.to(at::kCPU, at::kFloat));
      pixels.clear();
      rows.clear();
      return absl::OkStatus();
    });
  };
  for (size_t i = 0; i < images.size(); ++i) {
    absl::StatusOr<cv::Mat> rgb = DecodeImageFile(images[i]);
    if (!rgb.ok()) {
      failed->emplace_back(static_cast<int>(i), std::string(rgb.status().message()));
      continue;
    }
    pixels.push_back(*std::move(rgb));
    rows.push_back(static_cast<int64_t>(i));
    if (static_cast<int>(pixels.size()) >= batch) LMEYE_RETURN_IF_ERROR(flush());
  }
  LMEYE_RETURN_IF_ERROR(flush());
  return features;
}

void DropFailedImages(const std::vector<std::pair<int, std::string>>& failed, ExampleSet* set,
                      std::vector<ManifestIssue>* issues) {
  if (failed.empty()) return;
  std::map<int, std::string> why(failed.begin(), failed.end());
  std::set<int> reported_lines;
  std::vector<TrainExample> kept;
  for (TrainExample& e : set->examples) {
    auto it = why.find(e.image);
    if (it == why.end()) {
      kept.push_back(std::move(e));
    } else if (reported_lines.insert(e.line).second) {
      // Decode errors usually name the file already.
      const std::string& path = set->images[e.image];
      issues->push_back({e.line, absl::StrContains(it->second, path)
                                     ? absl::StrCat("image: ", it->second)
                                     : absl::StrCat("image ", path, ": ", it->second)});
    }
  }
  set->examples = std::move(kept);
}

TrainBatch MakeBatch(absl::Span<const TrainExample* const> examples, const at::Tensor& features) {
  const int64_t B = static_cast<int64_t>(examples.size());
  int64_t T = 0;
  for (const TrainExample* e : examples) T = std::max<int64_t>(T, e->n_positions());
  const bool instruct = examples[0]->slot;
  at::Tensor ids = at::zeros({B, T}, at::kLong);
  at::Tensor mask = at::zeros({B, T}, at::kLong);
  std::vector<int64_t> image_pos(B), slot_pos(B), label_pos, labels, rows(B);
  std::vector<int64_t> slot_positions;  // [B, Q] flattened, with tails
  auto id = ids.accessor<int64_t, 2>();
  auto m = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const TrainExample& e = *examples[b];
    rows[b] = e.image;
    int64_t t = 0;
    for (int tok : e.prefix) id[b][t++] = tok;
    image_pos[b] = t++;
    for (int tok : e.text) id[b][t++] = tok;
    if (instruct && e.tail.empty()) slot_pos[b] = t++;
    if (instruct && !e.tail.empty()) {
      slot_pos[b] = -1;
      for (int tok : e.tail) {
        if (tok == kSlotPosition) {
          if (slot_pos[b] < 0) slot_pos[b] = t;
          slot_positions.push_back(t++);
        } else {
          id[b][t++] = tok;
        }
      }
    }
    // The position before each target predicts it: the image (align) or slot (instruct) first.
    const int64_t first = t - 1;
    for (size_t j = 0; j < e.target.size(); ++j) {
      label_pos.push_back(b * T + first + static_cast<int64_t>(j));
      labels.push_back(e.target[j]);
      if (j + 1 < e.target.size()) id[b][t++] = e.target[j];
    }
    for (int64_t k = 0; k < t; ++k) m[b][k] = 1;
  }
  TrainBatch batch;
  batch.h_i = features.index_select(0, at::tensor(rows, at::kLong));
  batch.ids = ids;
  batch.mask = mask;
  batch.image_pos = at::tensor(image_pos, at::kLong);
  if (instruct) batch.slot_pos = at::tensor(slot_pos, at::kLong);
  if (!slot_positions.empty()) {
    batch.slot_positions = at::tensor(slot_positions, at::kLong).view({B, -1});
  }
  batch.label_pos = at::tensor(label_pos, at::kLong);
  batch.labels = at::tensor(labels, at::kLong);
  batch.n_targets = static_cast<int64_t>(labels.size());
  return batch;
}

}  // namespace lmeye
