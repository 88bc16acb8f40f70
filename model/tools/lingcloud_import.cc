#include "model/tools/lingcloud_import.h"

#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/safetensors.h"
#include "model/io/torch_checkpoint.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_config.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/vision/clip_config.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

// The release's `net` keys, in named_parameters() order.
constexpr const char* kV0Keys[] = {"embedding_img",   "embedding_imgd",   "imgLinear.weight",
                                   "imgLinear.bias",  "promptMlp.weight", "promptMlp.bias",
                                   "llm2clip.weight", "llm2clip.bias",    "imgdLinear.weight",
                                   "imgdLinear.bias"};

// torch's spelling of the dtypes a checkpoint holds ("float16", as torch.float16 prints).
std::string DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    default:
      return c10::toString(t);
  }
}

std::string Shape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status Mismatch(const std::string& what, int64_t checkpoint, const std::string& backbone,
                      int64_t width) {
  return absl::InvalidArgumentError(absl::StrCat("width mismatch: ", what, " is ", checkpoint,
                                                 " in the checkpoint but ", backbone, " is ",
                                                 width));
}

// The CLIP tokenizer's <|startoftext|> and <|endoftext|> ids: from vocab.json when the directory
// has it (the openai vocabulary ends with them), else the last two ids with a note.
absl::StatusOr<std::pair<int64_t, int64_t>> ClipEndIds(const std::string& clip_dir,
                                                       int64_t vocab_size,
                                                       std::vector<std::string>* lines) {
  const std::string vocab_file = clip_dir + "/vocab.json";
  if (!FileExists(vocab_file)) {
    lines->push_back(absl::StrCat("clip: no vocab.json; <|startoftext|>, <|endoftext|> taken as ",
                                  vocab_size - 2, ", ", vocab_size - 1,
                                  " (the openai vocabulary's last ids)"));
    return std::make_pair(vocab_size - 2, vocab_size - 1);
  }
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json vocab, ReadJsonFile(vocab_file));
  std::pair<int64_t, int64_t> ids{-1, -1};
  for (const auto& [piece, out] : {std::pair<const char*, int64_t*>{"<|startoftext|>", &ids.first},
                                   {"<|endoftext|>", &ids.second}}) {
    auto it = vocab.find(piece);
    if (it == vocab.end() || !it->is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(vocab_file, " has no ", piece));
    }
    *out = it->get<int64_t>();
  }
  return ids;
}

absl::Status PrepareOutDir(const std::string& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(out, " exists and is not empty; lmeye import writes a new model directory"));
  }
  fs::create_directories(out, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status PlaceBackbone(const std::string& from, const std::string& to, bool copy) {
  std::error_code ec;
  const fs::path source = fs::absolute(from, ec).lexically_normal();
  if (copy) {
    fs::copy(source, to, fs::copy_options::recursive, ec);
  } else {
    fs::create_directory_symlink(source, to, ec);
  }
  if (ec) {
    return absl::InternalError(absl::StrCat(copy ? "copying " : "linking ", source.string(), " to ",
                                            to, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LingcloudImportReport> ImportLingcloudV0(const LingcloudImportOptions& options) {
  LingcloudImportReport report;
  std::vector<std::string>& lines = report.lines;
  if (options.embedding_img_from != "embedding_imgd" &&
      options.embedding_img_from != "embedding_img") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--embedding-img must be embedding_imgd (the release) or embedding_img, got \"",
        options.embedding_img_from, "\""));
  }
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<TorchCheckpoint> ckpt,
                         TorchCheckpoint::Open(options.checkpoint));
  lines.push_back(absl::StrCat("checkpoint: ", options.checkpoint, " (",
                               ckpt->format() == TorchFormat::kZip ? "zip" : "legacy",
                               " torch.save format)"));
  std::string entry;
  for (const TorchTopLevelEntry& e : ckpt->TopLevel()) {
    lines.push_back(absl::StrCat("  entry '", e.key, "': ", e.summary,
                                 e.key == "net" ? "" : " (not needed, skipped)"));
    if (e.key == "net") entry = "net";
  }
  LMEYE_ASSIGN_OR_RETURN(std::vector<TorchTensorInfo> tensors, ckpt->Tensors(entry));
  bool ddp = !tensors.empty();
  for (const TorchTensorInfo& t : tensors) ddp = ddp && absl::StartsWith(t.name, "module.");
  if (ddp) {
    TorchReadOptions strip;
    strip.strip_ddp_prefix = true;
    LMEYE_ASSIGN_OR_RETURN(tensors, ckpt->Tensors(entry, strip));
    lines.push_back("  names carry DistributedDataParallel's \"module.\" prefix: removed");
  }
  std::map<std::string, const TorchTensorInfo*> by_name;
  for (const TorchTensorInfo& t : tensors) {
    by_name[t.name] = &t;
    lines.push_back(absl::StrCat("  ", t.name, " ", DtypeName(t.dtype), " ", Shape(t.shape),
                                 t.requires_grad ? "" : " (frozen)"));
  }
  std::vector<std::string> missing;
  for (const char* key : kV0Keys) {
    if (!by_name.count(key)) missing.push_back(key);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.checkpoint, ": not a LingCloud v0 IPN checkpoint: missing ",
                     absl::StrJoin(missing, ", "), entry.empty() ? "" : " in 'net'"));
  }
  for (const TorchTensorInfo& t : tensors) {
    bool known = false;
    for (const char* key : kV0Keys) known = known || t.name == key;
    if (!known) lines.push_back(absl::StrCat("  ", t.name, ": not an IPN parameter, ignored"));
  }

  // Widths: everything follows from imgLinear.weight [d_L, clip] and the two backbones.
  auto shape = [&](const char* key) { return by_name.at(key)->shape; };
  auto expect = [&](const char* key, std::vector<int64_t> want) -> absl::Status {
    if (shape(key) != want) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.checkpoint, ": ", key, " is ", Shape(shape(key)), ", expected ", Shape(want)));
    }
    return absl::OkStatus();
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
    return absl::InvalidArgumentError(
        absl::StrCat(options.checkpoint, ": promptMlp.weight ", Shape(shape("promptMlp.weight")),
                     " and imgdLinear.weight ", Shape(shape("imgdLinear.weight")),
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
    return Mismatch("the LLM width (embedding_img, imgLinear)", d_l,
                    absl::StrCat("the LLM's hidden size in ", options.llm_dir), llm.embed_dim);
  }
  if (clip != clip_config.vision->projection_dim) {
    return Mismatch("the CLIP width (imgLinear input)", clip,
                    absl::StrCat("the CLIP projection dim in ", options.clip_dir),
                    clip_config.vision->projection_dim);
  }
  if (clip != clip_config.text->encoder.hidden_size) {
    return Mismatch("the CLIP width (promptMlp, llm2clip output)", clip,
                    absl::StrCat("the CLIP text width in ", options.clip_dir),
                    clip_config.text->encoder.hidden_size);
  }
  if (clip != clip_config.text->projection_dim) {
    return Mismatch("the CLIP width (imgdLinear input)", clip,
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
  for (const auto& [piece, out] : {std::pair<const char*, int64_t*>{"<img>", &v0.img_token_id},
                                   {"<img-d>", &v0.imgd_token_id}}) {
    std::optional<int> id = tokenizer->PieceToId(piece);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.llm_dir, ": the tokenizer has no ", piece,
                       " token; the release adds <img> and <img-d> (tokenizer.add_tokens) and "
                       "resizes the LLM's embeddings to match"));
    }
    if (*id >= llm.vocab_size) {
      return Mismatch(absl::StrCat("the ", piece, " id"), *id,
                      absl::StrCat("the LLM's vocab_size in ", options.llm_dir), llm.vocab_size);
    }
    *out = *id;
  }
  LMEYE_ASSIGN_OR_RETURN(auto clip_ends,
                         ClipEndIds(options.clip_dir, clip_config.text->vocab_size, &lines));
  v0.clip_bos_id = clip_ends.first;
  v0.clip_eos_id = clip_ends.second;
  v0.embedding_img_from = options.embedding_img_from;
  v0.add_bos = options.add_bos;
  // transformers 4.29's slow tokenizers (LLaMA's SentencePiece) strip the spaces around added
  // tokens; fast ones (BLOOM's tokenizer.json) keep them.
  v0.strip_around_image_tokens = tokenizer->family() == TokenizerFamily::kLlama;
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
  std::vector<std::pair<std::string, at::Tensor>> out_tensors;
  for (const char* key : kV0Keys) {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor t, ckpt->Load(*by_name.at(key)));
    out_tensors.emplace_back(key, t.to(at::kFloat).contiguous());
  }
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
  return report;
}

}  // namespace lmeye
