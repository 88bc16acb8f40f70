// `lmeye import lingcloud` for the released LMEye v0.1 on BLIP-2 Flan-T5 (lingcloud_import.h).
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/io/safetensors.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/model_dir.h"
#include "model/llm/t5_config.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tools/lingcloud_import_util.h"
#include "model/vision/blip2_config.h"
#include "model/vision/clip_config.h"

namespace lmeye {
namespace {

// The release's `net` keys (Blip2InstructionQueryModel's trained parameters, "module." removed).
const std::vector<std::string>& V01Keys() {
  static const auto* keys =
      new std::vector<std::string>{"instruction_embedding_imgd",    "instruction_embedding_imgq",
                                   "language_projection.weight",    "language_projection.bias",
                                   "instruction_blip22clip.weight", "instruction_blip22clip.bias",
                                   "instruction_linear.weight",     "instruction_linear.bias",
                                   "instruction_imgdLinear.weight", "instruction_imgdLinear.bias"};
  return *keys;
}

}  // namespace

absl::Status ImportLingcloudV01(const LingcloudImportOptions& options, const ReleaseNet& net,
                                std::vector<std::string>& lines) {
  const std::string& path = options.checkpoint;
  LMEYE_RETURN_IF_ERROR(RequireKeys(net, path, "LingCloud v0.1", V01Keys()));
  NoteIgnored(net, V01Keys(), &lines);
  for (const char* linear : {"language_projection.weight", "instruction_blip22clip.weight",
                             "instruction_linear.weight", "instruction_imgdLinear.weight"}) {
    if (net.shape(linear).size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", linear, " is ",
                                                     ShapeString(net.shape(linear)),
                                                     ", expected a Linear weight [out, in]"));
    }
  }
  // Widths: d (T5) and H (Q-Former) from language_projection, W (CLIP) from instruction_linear.
  const int64_t d = net.shape("language_projection.weight")[0];
  const int64_t h = net.shape("language_projection.weight")[1];
  const int64_t w = net.shape("instruction_linear.weight")[0];
  const int64_t n = w > 0 ? net.shape("instruction_blip22clip.weight")[0] / w : 0;
  if (n < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": instruction_blip22clip.weight ",
                     ShapeString(net.shape("instruction_blip22clip.weight")),
                     " is not a multiple of the CLIP width ", w));
  }
  for (const auto& [key, want] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"instruction_embedding_imgd", {1, d}},
           {"instruction_embedding_imgq", {1, d}},
           {"language_projection.bias", {d}},
           {"instruction_blip22clip.weight", {n * w, d}},
           {"instruction_blip22clip.bias", {n * w}},
           {"instruction_linear.weight", {w, h}},
           {"instruction_linear.bias", {w}},
           {"instruction_imgdLinear.weight", {d, w}},
           {"instruction_imgdLinear.bias", {d}}}) {
    LMEYE_RETURN_IF_ERROR(ExpectShape(net, path, key, want));
  }

  LMEYE_ASSIGN_OR_RETURN(Blip2Config blip2, LoadBlip2Config(options.blip2_dir));
  LMEYE_ASSIGN_OR_RETURN(T5Config t5, LoadT5Config(options.blip2_dir));
  LMEYE_ASSIGN_OR_RETURN(ClipConfig clip, LoadClipConfig(options.clip_dir));
  if (!clip.text.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.clip_dir, ": needs a CLIPModel with its text tower"));
  }
  if (d != t5.d_model) {
    return WidthMismatch("the T5 width (language_projection output)", d,
                         absl::StrCat("T5's d_model in ", options.blip2_dir), t5.d_model);
  }
  if (h != blip2.qformer.hidden_size) {
    return WidthMismatch("the Q-Former width (language_projection, instruction_linear input)", h,
                         absl::StrCat("the Q-Former's hidden_size in ", options.blip2_dir),
                         blip2.qformer.hidden_size);
  }
  if (w != clip.text->encoder.hidden_size) {
    return WidthMismatch("the CLIP width (instruction_linear output)", w,
                         absl::StrCat("the CLIP text width in ", options.clip_dir),
                         clip.text->encoder.hidden_size);
  }
  if (w != clip.text->projection_dim) {
    return WidthMismatch("the CLIP width (instruction_imgdLinear input)", w,
                         absl::StrCat("the CLIP text projection dim in ", options.clip_dir),
                         clip.text->projection_dim);
  }
  const int64_t rows = blip2.n_query_tokens + n + 2;
  if (rows > clip.text->max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the interaction's ", rows, " rows (", blip2.n_query_tokens, " queries + ", n,
        " + 2) exceed the CLIP text tower's ", clip.text->max_position_embeddings, " positions"));
  }
  lines.push_back(absl::StrCat("widths: T5 ", d, ", Q-Former ", h, " (", blip2.n_query_tokens,
                               " queries), CLIP ", w, "; ", n, " <img-d> rows"));

  // The tokens the release added to T5's tokenizer; the table already has rows for them.
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(options.blip2_dir));
  IpnAdapterConfig config;
  config.layout = AdapterLayout::kLingcloudV01;
  LingcloudV01Config& v01 = config.lingcloud_v0_1;
  v01.imgd_len = static_cast<int>(n);
  for (const auto& [piece, out] : {std::pair<const char*, int64_t*>{"<img-d>", &v01.imgd_token_id},
                                   {"<img-q>", &v01.imgq_token_id}}) {
    std::optional<int> id = tokenizer->PieceToId(piece);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.blip2_dir, ": the tokenizer has no ", piece,
                       " token; the release adds <img-d> and <img-q> (tokenizer.add_tokens, "
                       "added_tokens.json)"));
    }
    if (*id >= t5.vocab_size) {
      return WidthMismatch(absl::StrCat("the ", piece, " id"), *id,
                           absl::StrCat("T5's embedding rows in ", options.blip2_dir),
                           t5.vocab_size);
    }
    *out = *id;
  }
  LMEYE_ASSIGN_OR_RETURN(auto clip_ends,
                         ClipEndIds(options.clip_dir, clip.text->vocab_size, &lines));
  v01.clip_bos_id = clip_ends.first;
  v01.clip_eos_id = clip_ends.second;
  lines.push_back(absl::StrCat("tokens: <img-d> ", v01.imgd_token_id, ", <img-q> ",
                               v01.imgq_token_id, "; CLIP <|startoftext|> ", v01.clip_bos_id,
                               ", <|endoftext|> ", v01.clip_eos_id, "; interaction rows: the last ",
                               n, " (as released)"));
  config.vision = "blip2";
  config.llm = "blip2";
  config.text = "clip";
  LMEYE_RETURN_IF_ERROR(config.Validate());

  LMEYE_ASSIGN_OR_RETURN(auto tensors, LoadFloat32(net, V01Keys()));
  LMEYE_RETURN_IF_ERROR(PrepareOutDir(options.out_dir));
  const ModelDir out(options.out_dir, config);
  LMEYE_RETURN_IF_ERROR(WriteSafetensors(out.adapter_weights_file(), tensors,
                                         {{"format", "pt"}, {"layout", "lingcloud-v0.1"}}));
  LMEYE_RETURN_IF_ERROR(
      WriteFileAtomically(out.adapter_config_file(), IpnAdapterConfigToJson(config)));
  LMEYE_RETURN_IF_ERROR(PlaceBackbone(options.blip2_dir, out.llm_dir(), options.copy_backbones));
  LMEYE_RETURN_IF_ERROR(PlaceBackbone(options.clip_dir, out.text_dir(), options.copy_backbones));
  lines.push_back(absl::StrCat("wrote ", options.out_dir, " (check it: lmeye verify --model ",
                               options.out_dir, " --goldens DIR)"));
  return absl::OkStatus();
}

}  // namespace lmeye
