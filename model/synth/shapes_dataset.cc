#include "model/synth/shapes_dataset.h"

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
  std::ofstream captions, instruct, text, qa, scenes;

  std::array<std::pair<std::ofstream*, const char*>, 5> Files() {
    return {{{&captions, "captions.jsonl"},
             {&instruct, "instruct.jsonl"},
             {&text, "text.jsonl"},
             {&qa, "qa.jsonl"},
             {&scenes, "scenes.jsonl"}}};
  }
  absl::Status Open() {
    for (auto [file, name] : Files()) {
      file->open(fs::path(dir) / name, std::ios::binary | std::ios::trunc);
      if (!file->is_open())
        return absl::InternalError(absl::StrCat("cannot write ", dir, "/", name));
    }
    return absl::OkStatus();
  }
  absl::Status Close() {
    for (auto [file, name] : Files()) {
      file->close();
      if (file->fail()) return absl::InternalError(absl::StrCat("writing ", dir, "/", name));
    }
    return absl::OkStatus();
  }
};

void WriteLine(std::ofstream& out, const Json& j) { out << j.dump() << "\n"; }

Json Conversation(const std::string& image, const std::string& question,
                  const std::string& answer) {
  return Json{{"image", image},
              {"conversations", Json::array({Json{{"from", "human"}, {"value", question}},
                                             Json{{"from", "gpt"}, {"value", answer}}})}};
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
  for (const auto& [kind, n] : summary.qa_by_kind) kinds[kind] = n;
  return Json{
      {"generator", "lmeye data shapes"},
      {"seed", options.seed},
      {"n_images", summary.n_images},
      {"image_size", options.image_size},
      {"n_instruct", summary.n_instruct},
      {"n_text", summary.n_text},
      {"n_qa", summary.n_qa},
      {"qa_kinds", kinds},
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
  const std::string id_prefix = absl::StrFormat("%06d_", index);
  int n_question = 0;
  auto qa_line = [&](Json j) {
    Json line = Json{{"question_id", absl::StrCat(id_prefix, n_question++)}, {"image", image}};
    line.update(j);
    WriteLine(out.qa, line);
    ++summary.n_qa;
  };

  WriteLine(out.captions, Json{{"image", image}, {"caption", caption}});
  WriteLine(out.scenes, SceneJson(scene, image));
  WriteLine(out.text, Json{{"text", caption}});
  WriteLine(out.text, Json{{"text", description}});
  summary.n_text += 2;
  WriteLine(out.instruct, Conversation(image, kDescribePrompt, description));
  ++summary.n_instruct;
  for (const QaPair& q : questions.short_answers) {
    WriteLine(out.instruct, Conversation(image, q.question, q.answer));
    WriteLine(out.text,
              Json{{"text", absl::StrCat("Question: ", q.question, "\nAnswer: ", q.answer)}});
    ++summary.n_instruct;
    ++summary.n_text;
  }
  for (const QaPair& q : questions.short_answers) {
    qa_line(Json{{"question", q.question}, {"answer", q.answer}, {"kind", QaKindName(q.kind)}});
    ++summary.qa_by_kind[QaKindName(q.kind)];
  }
  const QaPair& tf = questions.true_false;
  qa_line(Json{{"question", tf.question}, {"answer", tf.answer}, {"kind", QaKindName(tf.kind)}});
  ++summary.qa_by_kind[QaKindName(tf.kind)];
  const ChoiceQuestion& choice = questions.choice;
  qa_line(Json{{"question", choice.question},
               {"choices", choice.choices},
               {"answer_index", choice.answer_index},
               {"answer", choice.choices[choice.answer_index]},
               {"kind", "choice"}});
  ++summary.qa_by_kind["choice"];
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
