#include "model/train/clip_objective.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/device.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/train/manifest.h"
#include "model/train/output_dir.h"
#include "model/vision/image_decode.h"
#include "model/vision/image_preprocess.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

// CLIP's clamp: the temperature never drops below 1/100.
const double kMaxLogitScale = std::log(100.0);
// transformers' logit_scale_init_value (1 / 0.07), for checkpoints that lack the tensor.
constexpr double kInitLogitScale = 2.6592;
// SigLIP's initial temperature for the label loss (exp(s) = 10).
constexpr double kInitLabelScale = 10.0;

// Row-normalised [B, B] targets: 1 where the captions are identical.
at::Tensor SameCaptionTargets(const std::vector<int>& classes, const at::Device& device) {
  at::Tensor c = at::tensor(std::vector<int64_t>(classes.begin(), classes.end()), at::kLong);
  at::Tensor same = (c.unsqueeze(0) == c.unsqueeze(1)).to(at::kFloat);
  return (same / same.sum(1, /*keepdim=*/true)).to(device);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClipObjective>> ClipObjective::Create(const TrainConfig& config,
                                                                     std::ostream* log) {
  auto objective = std::unique_ptr<ClipObjective>(new ClipObjective(config));
  LMEYE_RETURN_IF_ERROR(objective->Init(log));
  return objective;
}

absl::Status ClipObjective::Init(std::ostream* log) {
  LMEYE_ASSIGN_OR_RETURN(device_, ParseDevice(config_.device));
  LMEYE_ASSIGN_OR_RETURN(const ModelDir dir, ModelDir::Open(config_.model));
  adapter_config_ = dir.adapter_config();
  if (adapter_config_.vision != adapter_config_.text) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir.adapter_config_file(),
                     ": the clip stage trains one CLIPModel directory holding both "
                     "towers, but vision is \"",
                     adapter_config_.vision, "\" and text is \"", adapter_config_.text, "\""));
  }
  std::error_code ec;
  clip_dir_ = fs::weakly_canonical(dir.vision_dir(), ec).string();
  LMEYE_ASSIGN_OR_RETURN(ClipConfig clip_config, LoadClipConfig(clip_dir_));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(clip_dir_));
  ClipRuntimeOptions runtime;
  runtime.device = device_;
  LMEYE_ASSIGN_OR_RETURN(vision_, ClipVisionTower::Load(clip_config, *ckpt, runtime));
  LMEYE_ASSIGN_OR_RETURN(text_, ClipTextTower::Load(clip_config, *ckpt, runtime));
  if (!vision_->has_projection() || !text_->has_projection()) {
    return absl::FailedPreconditionError(absl::StrCat(
        clip_dir_,
        ": the clip stage needs a CLIPModel with visual_projection and text_projection"));
  }
  LMEYE_RETURN_IF_ERROR(GuardTorch("loading logit_scale", [&]() -> absl::Status {
    if (ckpt->Contains("logit_scale")) {
      LMEYE_ASSIGN_OR_RETURN(logit_scale_, ckpt->Load("logit_scale", at::kFloat));
      logit_scale_ = logit_scale_.reshape({}).to(device_).clone();
    } else {
      logit_scale_ = at::full({}, kInitLogitScale, at::TensorOptions(device_).dtype(at::kFloat));
    }
    logit_scale_.set_requires_grad(true);
    return absl::OkStatus();
  }));
  // Every tensor of both towers trains, named as in the checkpoint.
  for (torch::nn::Module* root : {static_cast<torch::nn::Module*>(vision_->module().get()),
                                  static_cast<torch::nn::Module*>(text_->module().get())}) {
    for (auto& p : root->named_parameters(/*recurse=*/true)) {
      p.value().set_requires_grad(true);
      trained_.emplace_back(p.key(), p.value());
    }
  }
  trained_.emplace_back("logit_scale", logit_scale_);

  // The CLIP directory's own tokenizer when it ships one, else the LLM's (a demo model shares
  // one small vocabulary between the two).
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(clip_dir_);
  if (!tokenizer.ok()) tokenizer = LoadTokenizer(dir.llm_dir());
  if (!tokenizer.ok()) return tokenizer.status();
  tokenizer_ = *std::move(tokenizer);
  LMEYE_ASSIGN_OR_RETURN(preprocessor_,
                         ClipImagePreprocessor::FromFile(dir.preprocessor_config_file()));

  // Evaluation runs in float32 (TrainConfig::autocast): its pixels stay float32.
  const at::ScalarType train_pixels = config_.autocast == "bf16" ? at::kBFloat16 : at::kFloat;
  LMEYE_RETURN_IF_ERROR(LoadPairs(config_.data, train_pixels, &train_, log));
  if (!config_.eval_data.empty()) {
    LMEYE_RETURN_IF_ERROR(LoadPairs(config_.eval_data, at::kFloat, &eval_, log));
  }
  LMEYE_RETURN_IF_ERROR(InitLabelHead(log));
  LogTrainLine(log, absl::StrFormat("clip: %d training pairs, %d eval pairs, %d trained tensors",
                                    train_.n(), eval_.n(), trained_.size()));
  return absl::OkStatus();
}

absl::Status ClipObjective::InitLabelHead(std::ostream* log) {
  int64_t n_true = 0;
  for (const std::vector<int>& l : train_.labels) n_true += static_cast<int64_t>(l.size());
  if (config_.label_weight <= 0 || n_true == 0) return absl::OkStatus();
  // The prior log-odds of "this label is true of this image", so that the first steps do not
  // spend themselves learning that most labels are false.
  const double per_pair = static_cast<double>(n_true) / train_.n();
  const double p = std::clamp(per_pair / train_.label_text.size(), 1e-4, 0.5);
  return GuardTorch("the label head", [&]() -> absl::Status {
    const auto options = at::TensorOptions(device_).dtype(at::kFloat);
    label_scale_ = at::full({}, std::log(kInitLabelScale), options).set_requires_grad(true);
    label_bias_ = at::full({}, std::log(p / (1 - p)), options).set_requires_grad(true);
    trained_.emplace_back("label_logit_scale", label_scale_);
    trained_.emplace_back("label_logit_bias", label_bias_);
    LogTrainLine(log, absl::StrFormat("clip: label loss on %d distinct labels (%.2f per pair, "
                                      "weight %g)",
                                      train_.label_text.size(), per_pair, config_.label_weight));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<int>> ClipObjective::TextIds(const std::string& text) const {
  const ClipTextConfig& tc = text_->config();
  const int64_t eos = tc.eos_word_id();
  LMEYE_ASSIGN_OR_RETURN(std::vector<int> ids, tokenizer_->Encode(text));
  for (int id : ids) {
    if (id < 0 || id >= eos) {
      return absl::InvalidArgumentError(
          absl::StrCat("ids must be below the CLIP text EOS word id ", eos,
                       " (text_config vocab_size too small for the tokenizer?)"));
    }
  }
  if (static_cast<int64_t>(ids.size()) > tc.max_position_embeddings - 1) {
    ids.resize(tc.max_position_embeddings - 1);
  }
  ids.push_back(static_cast<int>(eos));
  return ids;
}

absl::StatusOr<at::Tensor> ClipObjective::DecodePixels(const std::string& path,
                                                       at::ScalarType pixel_dtype) const {
  LMEYE_ASSIGN_OR_RETURN(cv::Mat rgb, DecodeImageFile(path));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor pv, preprocessor_->Preprocess(rgb));
  return GuardTorch("image pixels",
                    [&]() -> absl::StatusOr<at::Tensor> { return pv.to(pixel_dtype); });
}

absl::Status ClipObjective::LoadPairs(const std::string& path, at::ScalarType pixel_dtype,
                                      PairSet* set, std::ostream* log) {
  LMEYE_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(path));
  std::vector<std::pair<int, std::string>> issues;
  auto issue = [&](int line, const std::string& why) {
    issues.emplace_back(line, absl::StrCat(path, ":", line, ": ", why));
  };
  for (const ManifestIssue& i : manifest.issues) issue(i.line, i.message);
  std::map<std::string, int> classes;
  std::map<std::string, int> label_index;     // label text -> index into set->label_text
  std::map<std::string, at::Tensor> decoded;  // images shared by several captions: once
  std::vector<at::Tensor> pixels;
  for (const ManifestRecord& r : manifest.records) {
    if (!r.is_caption()) {
      issue(r.line, "the clip stage takes caption lines ({\"image\", \"caption\"})");
      continue;
    }
    absl::StatusOr<std::vector<int>> ids = TextIds(r.caption);
    if (!ids.ok()) {
      issue(r.line, absl::StrCat("caption: ", ids.status().message()));
      continue;
    }
    std::vector<std::vector<int>> negatives;
    absl::Status negatives_ok;
    for (const std::string& text : r.negatives) {
      absl::StatusOr<std::vector<int>> n = TextIds(text);
      if (!n.ok()) {
        negatives_ok = n.status();
        break;
      }
      negatives.push_back(*std::move(n));
    }
    if (!negatives_ok.ok()) {
      issue(r.line, absl::StrCat("negatives: ", negatives_ok.message()));
      continue;
    }
    std::vector<int> labels;
    absl::Status labels_ok;
    for (const std::string& text : r.labels) {
      auto [label, added] = label_index.emplace(text, static_cast<int>(set->label_text.size()));
      if (added) {
        absl::StatusOr<std::vector<int>> l = TextIds(text);
        if (!l.ok()) {
          label_index.erase(label);
          labels_ok = l.status();
          break;
        }
        set->label_text.push_back(*std::move(l));
      }
      labels.push_back(label->second);
    }
    if (!labels_ok.ok()) {
      issue(r.line, absl::StrCat("labels: ", labels_ok.message()));
      continue;
    }
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    auto it = decoded.find(r.image);
    if (it == decoded.end()) {
      absl::StatusOr<at::Tensor> image = DecodePixels(r.image, pixel_dtype);
      if (!image.ok()) {
        issue(r.line, absl::StrCat("image: ", image.status().message()));
        continue;
      }
      it = decoded.emplace(r.image, *std::move(image)).first;
    }
    pixels.push_back(it->second);
    set->text.push_back(*std::move(ids));
    set->negatives.push_back(std::move(negatives));
    set->labels.push_back(std::move(labels));
    set->caption_class.push_back(
        classes.emplace(r.caption, static_cast<int>(classes.size())).first->second);
  }
  LMEYE_RETURN_IF_ERROR(ReportSkippedLines(config_, path, manifest.n_lines, issues, log));
  if (pixels.empty()) return absl::FailedPreconditionError(absl::StrCat(path, ": no pairs"));
  return GuardTorch("stacking images", [&]() -> absl::Status {
    set->pixels = at::stack(pixels);
    return absl::OkStatus();
  });
}

absl::StatusOr<at::Tensor> ClipObjective::PairLoss(const PairSet& set,
                                                   const std::vector<int64_t>& rows,
                                                   int64_t* correct) {
  const int64_t B = static_cast<int64_t>(rows.size());
  // The texts: the B captions, then every negative of those pairs.
  std::vector<const std::vector<int>*> texts;
  std::vector<int> classes;
  for (int64_t r : rows) {
    texts.push_back(&set.text[r]);
    classes.push_back(set.caption_class[r]);
  }
  for (int64_t r : rows) {
    for (const std::vector<int>& n : set.negatives[r]) texts.push_back(&n);
  }
  const int64_t N = static_cast<int64_t>(texts.size());  // the contrastive loss's texts
  // Then the rows' distinct labels, through the same text forward.
  std::vector<int> label_ids;
  if (label_scale_.defined()) {
    for (int64_t r : rows) {
      label_ids.insert(label_ids.end(), set.labels[r].begin(), set.labels[r].end());
    }
    std::sort(label_ids.begin(), label_ids.end());
    label_ids.erase(std::unique(label_ids.begin(), label_ids.end()), label_ids.end());
    for (int l : label_ids) texts.push_back(&set.label_text[l]);
  }
  const int64_t n_texts = static_cast<int64_t>(texts.size());
  int64_t T = 0;
  for (const auto* t : texts) T = std::max<int64_t>(T, static_cast<int64_t>(t->size()));
  // Right-padded with id 0 under a padding mask; the pooled EOS is the last real position.
  std::vector<int64_t> ids(n_texts * T, 0), mask(n_texts * T, 0);
  for (int64_t b = 0; b < n_texts; ++b) {
    const std::vector<int>& t = *texts[b];
    for (size_t i = 0; i < t.size(); ++i) {
      ids[b * T + i] = t[i];
      mask[b * T + i] = 1;
    }
  }
  at::Tensor pixels;
  LMEYE_RETURN_IF_ERROR(GuardTorch("clip batch", [&]() -> absl::Status {
    pixels = set.pixels.index_select(0, at::tensor(rows, at::kLong)).to(at::kFloat);
    return absl::OkStatus();
  }));
  ClipVisionForwardOptions vision_options;
  vision_options.grad = true;
  LMEYE_ASSIGN_OR_RETURN(ClipVisionOutput image, vision_->Forward(pixels, vision_options));
  ClipTextForwardOptions text_options;
  text_options.attention_mask = at::tensor(mask, at::kLong).view({n_texts, T}).to(device_);
  LMEYE_ASSIGN_OR_RETURN(
      ClipTextOutput text,
      text_->ForwardIds(at::tensor(ids, at::kLong).view({n_texts, T}).to(device_), text_options));
  return GuardTorch("clip loss", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor u = image.image_embeds.to(at::kFloat);
    at::Tensor t_all = text.text_embeds.to(at::kFloat);
    u = u / u.norm(2, -1, /*keepdim=*/true);
    t_all = t_all / t_all.norm(2, -1, /*keepdim=*/true);
    at::Tensor t = t_all.narrow(0, 0, N);
    at::Tensor logits = logit_scale_.exp() * at::matmul(u, t.t());  // [B images, N texts]
    at::Tensor targets = SameCaptionTargets(classes, device_);      // [B, B], symmetric
    // Image -> text over the captions and the negatives (never right: target 0).
    at::Tensor i2t_targets = at::constant_pad_nd(targets, {0, N - B});  // [B, N]
    at::Tensor i2t = -(i2t_targets * at::log_softmax(logits, 1)).sum(1);
    // Text -> image over the B images, for the B captions only.
    at::Tensor t2i = -(targets * at::log_softmax(logits.narrow(1, 0, B).t(), 1)).sum(1);
    if (correct != nullptr) {
      at::Tensor best = logits.argmax(1);  // the text each image scores highest
      *correct = i2t_targets.gather(1, best.unsqueeze(1)).gt(0).sum().item<int64_t>();
    }
    at::Tensor loss = (i2t + t2i) / 2;
    if (!label_ids.empty()) {
      loss = loss + LabelLoss(set, rows, label_ids, u, t_all.narrow(0, N, n_texts - N));
    }
    return loss.sum();
  });
}

at::Tensor ClipObjective::LabelLoss(const PairSet& set, const std::vector<int64_t>& rows,
                                    const std::vector<int>& label_ids, const at::Tensor& u,
                                    const at::Tensor& t) const {
  const int64_t B = static_cast<int64_t>(rows.size());
  const int64_t L = static_cast<int64_t>(label_ids.size());
  std::vector<float> truth(B * L, 0.0f);
  for (int64_t b = 0; b < B; ++b) {
    for (int l : set.labels[rows[b]]) {
      const auto at = std::lower_bound(label_ids.begin(), label_ids.end(), l);
      truth[b * L + (at - label_ids.begin())] = 1.0f;
    }
  }
  at::Tensor target = at::tensor(truth, at::kFloat).view({B, L}).to(device_);
  at::Tensor z = label_scale_.exp() * at::matmul(u, t.t()) + label_bias_;  // [B, L]
  // -log sigmoid(z) for a true label, -log sigmoid(-z) for a false one: softplus(-+z).
  at::Tensor per_label = at::softplus(z * (1 - 2 * target));
  return config_.label_weight * per_label.sum(1);
}

absl::StatusOr<at::Tensor> ClipObjective::LossSum(absl::Span<const int64_t> examples) {
  // The clamp of the previous step's update, before this step reads the scale.
  LMEYE_RETURN_IF_ERROR(GuardTorch("clamping logit_scale", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    logit_scale_.clamp_(0, kMaxLogitScale);
    return absl::OkStatus();
  }));
  return PairLoss(train_, std::vector<int64_t>(examples.begin(), examples.end()), nullptr);
}

absl::StatusOr<EvalSums> ClipObjective::EvaluateShard(int rank, int world, int batch_size) {
  if (eval_.n() == 0) return absl::FailedPreconditionError("no eval_data pairs to evaluate");
  torch::NoGradGuard no_grad;
  EvalSums sums;
  for (const std::vector<int64_t>& rows : EvalShardBatches(eval_.n(), rank, world, batch_size)) {
    int64_t correct = 0;
    LMEYE_ASSIGN_OR_RETURN(at::Tensor loss, PairLoss(eval_, rows, &correct));
    sums.loss_sum += loss.item<double>();
    sums.n_targets += static_cast<double>(rows.size());
    sums.n_scored += static_cast<double>(rows.size());
    sums.n_correct += static_cast<double>(correct);
  }
  return sums;
}

absl::Status ClipObjective::WriteOutputs(std::ostream* log) {
  NamedTensors tensors;
  LMEYE_RETURN_IF_ERROR(GuardTorch("collecting the CLIP weights", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    logit_scale_.clamp_(0, kMaxLogitScale);
    for (const auto& [name, t] : trained_) {
      // The label head is the objective's, not the CLIPModel's.
      if (t.is_same(label_scale_) || t.is_same(label_bias_)) continue;
      // transformers stores logit_scale as a 0-d tensor.
      tensors.emplace_back(name, t.detach());
    }
    return absl::OkStatus();
  }));
  LMEYE_ASSIGN_OR_RETURN(at::ScalarType dtype, ParseDtype(config_.save_dtype));
  const std::string dst = config_.output_dir + "/" + adapter_config_.vision;
  LMEYE_RETURN_IF_ERROR(WriteBackboneDir(clip_dir_, dst, tensors, dtype));
  LMEYE_RETURN_IF_ERROR(CompleteModelDir(config_.model, config_.output_dir, adapter_config_,
                                         {adapter_config_.vision}, /*adapter_written=*/false));
  LogTrainLine(
      log, absl::StrCat("wrote the CLIP towers to ", dst, " (", config_.output_dir,
                        " is a model directory: lmeye serve --model ", config_.output_dir, ")"));
  return absl::OkStatus();
}

}  // namespace lmeye
