#include "model/synth/shapes_dataset.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/status_macros.h"
#include "model/synth/shapes_questions.h"
#include "model/synth/shapes_render.h"
#include "model/synth/shapes_text.h"
#include "model/synth/shapes_world.h"

namespace lmeye::synth {
namespace {

namespace fs = std::filesystem;
// Insertion-ordered keys: lines read {"image", "caption"} as documented.
using Json = nlohmann::ordered_json;

// The output files, open for the whole run.
struct Outputs {
  std::string dir;
  bool clip_only = false;
  std::ofstream captions, clip, instruct, text, restate, scenes, eval_vqa, eval_choice,
      eval_describe;

  std::array<std::pair<std::ofstream*, const char*>, 9> Files() {
    return {{{&captions, "captions.jsonl"},
             {&clip, "clip.jsonl"},
             {&instruct, "instruct.jsonl"},
             {&text, "text.jsonl"},
             {&restate, "text_restate.jsonl"},
             {&scenes, "scenes.jsonl"},
             {&eval_vqa, "eval_vqa.jsonl"},
             {&eval_choice, "eval_choice.jsonl"},
             {&eval_describe, "eval_describe.jsonl"}}};
  }
  bool Wanted(const std::ofstream* file) const {
    return !clip_only || file == &clip || file == &scenes;
  }
  absl::Status Open() {
    for (auto [file, name] : Files()) {
      if (!Wanted(file)) continue;
      file->open(fs::path(dir) / name, std::ios::binary | std::ios::trunc);
      if (!file->is_open())
        return absl::InternalError(absl::StrCat("cannot write ", dir, "/", name));
    }
    return absl::OkStatus();
  }
  absl::Status Close() {
    for (auto [file, name] : Files()) {
      if (!Wanted(file)) continue;
      file->close();
      if (file->fail()) return absl::InternalError(absl::StrCat("writing ", dir, "/", name));
    }
    return absl::OkStatus();
  }
};

void WriteLine(std::ofstream& out, const Json& j) { out << j.dump() << "\n"; }

// VQA's answer types: what the report's perAnswerType breakdown groups by.
const char* AnswerType(QaKind kind) {
  switch (kind) {
    case QaKind::kExist:
    case QaKind::kMatch:
      return "yes/no";
    case QaKind::kCount:
      return "number";
    default:
      return "other";
  }
}

// One question in every place it goes: instruct.jsonl (AnswerVQA's training form) and
// text.jsonl (the same surface form, text only).
void WriteTrainingQuestion(const std::string& image, const std::string& question,
                           const std::string& answer, Outputs& out, ShapesDatasetSummary& summary) {
  WriteLine(out.instruct, Json{{"image", image}, {"question", question}, {"answer", answer}});
  WriteLine(out.text, Json{{"text", absl::StrCat("Question: ", question, "\nAnswer: ", answer)}});
  ++summary.n_instruct;
  ++summary.n_text;
}

// The CLIP caption's hard negatives (clip.jsonl): random captions never test binding. Two
// objects' colours swapped, then two objects' shapes, then two sizes (the first pair, left to
// right, where they differ): the same words, wrongly paired. Then the first object's colour and
// its shape changed to the next value: a word the scene does not have in that place (the only
// negatives of a one-object scene).
std::vector<std::string> BindingNegatives(const Scene& scene) {
  const std::string truth = ClipCaption(scene);
  std::vector<std::string> out;
  auto add = [&](const Scene& changed) {
    const std::string c = ClipCaption(changed);
    if (c != truth && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  const size_t n = scene.objects.size();
  auto swap_first = [&](auto member) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) {
        if (scene.objects[i].*member == scene.objects[j].*member) continue;
        Scene s = scene;
        std::swap(s.objects[i].*member, s.objects[j].*member);
        add(s);
        return;
      }
    }
  };
  swap_first(&ShapeObject::color);
  swap_first(&ShapeObject::shape);
  swap_first(&ShapeObject::size);
  Scene s = scene;
  s.objects[0].color = static_cast<Color>((static_cast<int>(s.objects[0].color) + 1) % kNumColors);
  add(s);
  s = scene;
  s.objects[0].shape = static_cast<Shape>((static_cast<int>(s.objects[0].shape) + 1) % kNumShapes);
  add(s);
  return out;
}

// The CLIP caption's labels (clip.jsonl): each object as a short text, "a large red circle",
// distinct, in the scene's order. The clip stage's label loss scores each against the image
// (clip_objective.h): a colour bound to its shape, object by object.
std::vector<std::string> ClipLabels(const Scene& scene) {
  std::vector<std::string> out;
  for (const ShapeObject& o : scene.objects) {
    std::string label = absl::StrCat("a ", ObjectPhrase(o, /*with_size=*/true));
    if (std::find(out.begin(), out.end(), label) == out.end()) out.push_back(std::move(label));
  }
  return out;
}

// Scene coordinates at 1e-4 of the side: enough to find a pixel, short to read.
double Rounded(double v) { return std::round(v * 1e4) / 1e4; }

Json SceneJson(const Scene& scene, const std::string& image) {
  Json objects = Json::array();
  for (const ShapeObject& o : scene.objects) {
    objects.push_back(Json{{"shape", ShapeName(o.shape)},
                           {"color", ColorName(o.color)},
                           {"size", SizeName(o.size)},
                           {"x", Rounded(o.x)},
                           {"y", Rounded(o.y)},
                           {"extent", o.extent()}});
  }
  return Json{{"image", image},
              {"background", BackgroundName(scene.background)},
              {"tone", scene.tone},
              {"objects", objects}};
}

template <typename T, typename NameFn>
Json Names(int n, NameFn name) {
  Json out = Json::array();
  for (int i = 0; i < n; ++i) out.push_back(name(static_cast<T>(i)));
  return out;
}

Json Meta(const ShapesDatasetOptions& options, const ShapesDatasetSummary& summary) {
  Json kinds = Json::object();
  for (const auto& [kind, n] : summary.eval_vqa_by_kind) kinds[kind] = n;
  return Json{
      {"generator", "lmeye data shapes"},
      {"seed", options.seed},
      {"n_images", summary.n_images},
      {"image_size", options.image_size},
      {"n_instruct", summary.n_instruct},
      {"n_text", summary.n_text},
      {"n_text_restate", summary.n_text_restate},
      {"n_eval_vqa", summary.n_eval_vqa},
      {"eval_vqa_kinds", kinds},
      {"n_eval_choice", summary.n_eval_choice},
      {"n_eval_describe", summary.n_eval_describe},
      {"vocabulary", Json{{"shapes", Names<Shape>(kNumShapes, ShapeName)},
                          {"colors", Names<Color>(kNumColors, ColorName)},
                          {"sizes", Names<Size>(kNumSizes, SizeName)},
                          {"backgrounds", Names<Background>(kNumBackgrounds, BackgroundName)}}},
      {"objects_per_image", Json::array({kMinObjects, kMaxObjects})},
  };
}

// Everything one scene contributes to the files.
absl::Status WriteScene(const ShapesDatasetOptions& options, int index, Outputs& out,
                        ShapesDatasetSummary& summary) {
  const Scene scene = SampleScene(options.seed, index);
  const std::string image = absl::StrFormat("images/%06d.png", index);
  LMEYE_RETURN_IF_ERROR(WriteScenePng(RenderScene(scene, options.seed, options.image_size),
                                      (fs::path(options.out_dir) / image).string()));
  const std::string caption = Caption(scene);
  const std::string description = Description(scene);
  const SceneQuestions questions = AskQuestions(scene, options.seed);
  // Question ids: "<image>_<k>", k counting the scene's questions (VQA, then the choice).
  const std::string id_prefix = absl::StrFormat("%06d_", index);
  int n_question = 0;

  WriteLine(out.captions, Json{{"image", image}, {"caption", caption}});
  WriteLine(out.clip, Json{{"image", image},
                           {"caption", ClipCaption(scene)},
                           {"negatives", BindingNegatives(scene)},
                           {"labels", ClipLabels(scene)}});
  WriteLine(out.scenes, SceneJson(scene, image));
  if (out.clip_only) {
    ++summary.n_images;
    return absl::OkStatus();
  }
  WriteLine(out.text, Json{{"text", caption}});
  WriteLine(out.text, Json{{"text", description}});
  summary.n_text += 2;

  std::vector<QaPair> vqa = questions.short_answers;
  vqa.push_back(questions.true_false);
  for (const QaPair& q : vqa) {
    WriteTrainingQuestion(image, q.question, q.answer, out, summary);
    if (!q.sentence.empty()) {
      // The same question answered in a sentence that restates its subject: a corpus on which a
      // small LM learns to copy from its prompt, so that the question reaches the IPN's slot.
      // The demo LM trained on text.jsonl with these lines mixed in still put 0.2 on each of the
      // five shapes after "Question: What color is the square?\nAnswer: The" at 3000 steps;
      // 1000 steps of these lines alone first gave 0.99 to "square". Not in text.jsonl: the
      // recipe's corpus stays.
      WriteLine(out.restate,
                Json{{"text", absl::StrCat("Question: ", q.question, "\nAnswer: ", q.sentence)}});
      ++summary.n_text_restate;
    }
    WriteLine(out.eval_vqa, Json{{"question_id", absl::StrCat(id_prefix, n_question++)},
                                 {"image", image},
                                 {"question", q.question},
                                 {"answers", std::vector<std::string>(kVqaAnswerCopies, q.answer)},
                                 {"question_type", QaKindName(q.kind)},
                                 {"answer_type", AnswerType(q.kind)}});
    ++summary.n_eval_vqa;
    ++summary.eval_vqa_by_kind[QaKindName(q.kind)];
  }
  // One of the scene's questions also as a one-turn chat (the chat template), so that `Chat`, what
  // a newcomer tries first, answers too; the kind rotates with the scene.
  const QaPair& chat = questions.short_answers[index % questions.short_answers.size()];
  WriteLine(out.instruct,
            Json{{"image", image},
                 {"conversations", Json::array({Json{{"from", "human"}, {"value", chat.question}},
                                                Json{{"from", "gpt"}, {"value", chat.answer}}})}});
  WriteLine(out.text,
            Json{{"text", absl::StrCat("Human: ", chat.question, "\nAssistant: ", chat.answer)}});
  ++summary.n_instruct;
  ++summary.n_text;
  const ChoiceQuestion& choice = questions.choice;
  WriteTrainingQuestion(image, choice.question, choice.choices[choice.answer_index], out, summary);
  WriteLine(out.eval_choice, Json{{"question_id", absl::StrCat(id_prefix, n_question++)},
                                  {"image", image},
                                  {"question", choice.question},
                                  {"choices", choice.choices},
                                  {"answer", choice.answer_index},
                                  {"question_type", "choice"}});
  ++summary.n_eval_choice;

  WriteLine(out.instruct, Json{{"image", image}, {"caption", description}});
  ++summary.n_instruct;
  // The scene's questions answered from its description, as text: the LM learns to read what
  // an answer needs from the context before the question (the image token and the IPN slot
  // stand in that place later), not only the answers' priors.
  std::string reading = description;
  for (const QaPair& q : vqa) {
    absl::StrAppend(&reading, "\nQuestion: ", q.question, "\nAnswer: ", q.answer);
  }
  WriteLine(out.text, Json{{"text", reading}});
  ++summary.n_text;
  WriteLine(out.eval_describe, Json{{"image_id", absl::StrFormat("%06d", index)},
                                    {"image", image},
                                    {"references", Json::array({description})}});
  ++summary.n_eval_describe;
  ++summary.n_images;
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateShapesOptions(const ShapesDatasetOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out_dir is empty");
  if (options.n_images < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_images must be >= 1, got ", options.n_images));
  }
  if (options.image_size < kMinImageSize || options.image_size > kMaxImageSize) {
    return absl::InvalidArgumentError(absl::StrCat("image_size must be in [", kMinImageSize, ", ",
                                                   kMaxImageSize, "], got ", options.image_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<ShapesDatasetSummary> WriteShapesDataset(const ShapesDatasetOptions& options) {
  LMEYE_RETURN_IF_ERROR(ValidateShapesOptions(options));
  std::error_code ec;
  fs::create_directories(fs::path(options.out_dir) / "images", ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.out_dir, "/images: ", ec.message()));
  }
  Outputs out;
  out.dir = options.out_dir;
  out.clip_only = options.clip_only;
  LMEYE_RETURN_IF_ERROR(out.Open());
  ShapesDatasetSummary summary;
  for (int i = 0; i < options.n_images; ++i) {
    LMEYE_RETURN_IF_ERROR(WriteScene(options, i, out, summary));
  }
  LMEYE_RETURN_IF_ERROR(out.Close());
  const std::string meta_path = (fs::path(options.out_dir) / "meta.json").string();
  std::ofstream meta(meta_path, std::ios::binary | std::ios::trunc);
  meta << Meta(options, summary).dump(2) << "\n";
  meta.close();
  if (meta.fail()) return absl::InternalError(absl::StrCat("writing ", meta_path));
  return summary;
}

}  // namespace lmeye::synth
