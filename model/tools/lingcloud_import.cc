#include "model/tools/lingcloud_import.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/io/safetensors.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_config.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tools/lingcloud_import_util.h"
#include "model/vision/clip_config.h"

namespace lmeye {
namespace {

// The release's `net` keys, in named_parameters() order.
constexpr const char* kV0Keys[] = {"embedding_img",   "embedding_imgd",   "imgLinear.weight",
                                   "imgLinear.bias",  "promptMlp.weight", "promptMlp.bias",
                                   "llm2clip.weight", "llm2clip.bias",    "imgdLinear.weight",
                                   "imgdLinear.bias"};

absl::Status ImportLingcloudV0(const LingcloudImportOptions& options, const ReleaseNet& net,
                               std::vector<std::string>& lines) {
  if (options.embedding_img_from != "embedding_imgd" &&
      options.embedding_img_from != "embedding_img") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--embedding-img must be embedding_imgd (the release) or embedding_img, got \"",
        options.embedding_img_from, "\""));
  }
  const std::vector<std::string> keys(std::begin(kV0Keys), std::end(kV0Keys));
  LMEYE_RETURN_IF_ERROR(RequireKeys(net, options.checkpoint, "LingCloud v0", keys));
  NoteIgnored(net, keys, &lines);

  // Widths: everything follows from imgLinear.weight [d_L, clip] and the two backbones.
  auto shape = [&](const char* key) { return net.shape(key); };
  auto expect = [&](const char* key, std::vector<int64_t> want) {
    return ExpectShape(net, options.checkpoint, key, want);
  };
  if (shape("imgLinear.weight").size() != 2 || shape("promptMlp.weight").size() != 2 ||
      shape("imgdLinear.weight").size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.checkpoint, ": imgLinear, promptMlp and imgdLinear must be Linear"));
  }
  const int64_t d_l = shape("imgLinear.weight")[0], clip = shape("imgLinear.weight")[1];
  const int64_t prompt_len = clip > 0 ? shape("promptMlp.weight")[0] / clip : 0;
  const int64_t query_len = d_l > 0 ? shape("imgdLinear.weight")[0] / d_l : 0;
  if (prompt_len < 1 || query_len < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.checkpoint, ": promptMlp.weight ", ShapeString(shape("promptMlp.weight")),
        " and imgdLinear.weight ", ShapeString(shape("imgdLinear.weight")),
        " are not multiples of the widths ", clip, " and ", d_l));
  }
  LMEYE_RETURN_IF_ERROR(expect("embedding_img", {1, d_l}));
  LMEYE_RETURN_IF_ERROR(expect("embedding_imgd", {1, d_l}));
  LMEYE_RETURN_IF_ERROR(expect("imgLinear.bias", {d_l}));
  LMEYE_RETURN_IF_ERROR(expect("promptMlp.weight", {prompt_len * clip, clip}));
  LMEYE_RETURN_IF_ERROR(expect("promptMlp.bias", {prompt_len * clip}));
  LMEYE_RETURN_IF_ERROR(expect("llm2clip.weight", {clip, d_l}));
  LMEYE_RETURN_IF_ERROR(expect("llm2clip.bias", {clip}));
  LMEYE_RETURN_IF_ERROR(expect("imgdLinear.weight", {query_len * d_l, clip}));
  LMEYE_RETURN_IF_ERROR(expect("imgdLinear.bias", {query_len * d_l}));

  LMEYE_ASSIGN_OR_RETURN(LlmConfig llm, LoadLlmConfig(options.llm_dir));
  LMEYE_ASSIGN_OR_RETURN(ClipConfig clip_config, LoadClipConfig(options.clip_dir));
  if (!clip_config.vision.has_value() || !clip_config.text.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.clip_dir, ": needs a full CLIPModel (both towers)"));
  }
  if (d_l != llm.embed_dim) {
    return WidthMismatch("the LLM width (embedding_img, imgLinear)", d_l,
                         absl::StrCat("the LLM's hidden size in ", options.llm_dir), llm.embed_dim);
  }
  if (clip != clip_config.vision->projection_dim) {
    return WidthMismatch("the CLIP width (imgLinear input)", clip,
                         absl::StrCat("the CLIP projection dim in ", options.clip_dir),
                         clip_config.vision->projection_dim);
  }
  if (clip != clip_config.text->encoder.hidden_size) {
    return WidthMismatch("the CLIP width (promptMlp, llm2clip output)", clip,
                         absl::StrCat("the CLIP text width in ", options.clip_dir),
                         clip_config.text->encoder.hidden_size);
  }
  if (clip != clip_config.text->projection_dim) {
    return WidthMismatch("the CLIP width (imgdLinear input)", clip,
                         absl::StrCat("the CLIP text projection dim in ", options.clip_dir),
                         clip_config.text->projection_dim);
  }
  lines.push_back(absl::StrCat("widths: LLM ", d_l, ", CLIP ", clip, "; prompt_len ", prompt_len,
                               ", query_len ", query_len));

  // The added tokens and the tokenization rule (docs/LINGCLOUD.md ambiguity 5).
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(options.llm_dir));
  IpnAdapterConfig config;
  config.layout = AdapterLayout::kLingcloudV0;
  LingcloudV0Config& v0 = config.lingcloud_v0;
  v0.prompt_len = static_cast<int>(prompt_len);
  v0.query_len = static_cast<int>(query_len);
  LMEYE_RETURN_IF_ERROR(ReadLingcloudV0Tokens(options.llm_dir, *tokenizer, llm.vocab_size, &v0));
  LMEYE_ASSIGN_OR_RETURN(auto clip_ends,
                         ClipEndIds(options.clip_dir, clip_config.text->vocab_size, &lines));
  v0.clip_bos_id = clip_ends.first;
  v0.clip_eos_id = clip_ends.second;
  v0.embedding_img_from = options.embedding_img_from;
  v0.add_bos = options.add_bos;
  v0.first_pass_hidden = options.first_pass_hidden;
  lines.push_back(absl::StrCat(
      "tokens: <img> ", v0.img_token_id, ", <img-d> ", v0.imgd_token_id, "; CLIP <|startoftext|> ",
      v0.clip_bos_id, ", <|endoftext|> ", v0.clip_eos_id, "; whitespace around them ",
      v0.strip_around_image_tokens ? "stripped (slow tokenizer)" : "kept (fast tokenizer)"));
  lines.push_back(absl::StrCat("embedding_img: the stored ", v0.embedding_img_from,
                               v0.embedding_img_from == "embedding_imgd"
                                   ? " (the release's loader overwrites embedding_img with it)"
                                   : " (as trained; the release's loader used embedding_imgd)"));
  LMEYE_RETURN_IF_ERROR(config.Validate());

  // Write: the adapter, its description, then the backbones.
  LMEYE_ASSIGN_OR_RETURN(auto out_tensors, LoadFloat32(net, keys));
  LMEYE_RETURN_IF_ERROR(PrepareOutDir(options.out_dir));
  config.vision = "clip";
  config.text = "clip";
  config.llm = "llm";
  const ModelDir out(options.out_dir, config);
  LMEYE_RETURN_IF_ERROR(WriteSafetensors(out.adapter_weights_file(), out_tensors,
                                         {{"format", "pt"}, {"layout", "lingcloud-v0"}}));
  LMEYE_RETURN_IF_ERROR(
      WriteFileAtomically(out.adapter_config_file(), IpnAdapterConfigToJson(config)));
  LMEYE_RETURN_IF_ERROR(PlaceBackbone(options.llm_dir, out.llm_dir(), options.copy_backbones));
  LMEYE_RETURN_IF_ERROR(PlaceBackbone(options.clip_dir, out.vision_dir(), options.copy_backbones));
  lines.push_back(absl::StrCat("wrote ", options.out_dir, " (serve it: lmeye serve --model ",
                               options.out_dir, ")"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LingcloudImportReport> ImportLingcloud(const LingcloudImportOptions& options) {
  LingcloudImportReport report;
  LMEYE_ASSIGN_OR_RETURN(ReleaseNet net, ReadReleaseNet(options.checkpoint, &report.lines));
  const bool v01 = net.has("instruction_linear.weight");
  report.lines.push_back(v01 ? "layout: LMEye v0.1 (BLIP-2 Flan-T5; instruction_* parameters)"
                             : "layout: LMEye v0 (LLaMA / BLOOM)");
  const std::string& needed = v01 ? options.blip2_dir : options.llm_dir;
  const std::string& other = v01 ? options.llm_dir : options.blip2_dir;
  if (needed.empty() || !other.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.checkpoint, " is a LingCloud ", v01 ? "v0.1" : "v0", " checkpoint: give ",
        v01 ? "--blip2 (the Blip2 Flan-T5 directory)" : "--llm (the LLaMA or BLOOM directory)",
        " and not ", v01 ? "--llm" : "--blip2"));
  }
  LMEYE_RETURN_IF_ERROR(v01 ? ImportLingcloudV01(options, net, report.lines)
                            : ImportLingcloudV0(options, net, report.lines));
  return report;
}

}  // namespace lmeye
