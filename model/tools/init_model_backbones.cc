#include "model/tools/init_model_backbones.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/ipn/adapter.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/lingcloud_v0_adapter.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_arch.h"
#include "model/llm/llm_config.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tools/init_model_writer.h"
#include "model/tools/lingcloud_import_util.h"
#include "model/vision/clip_config.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The resized embedding tables of an LLM the v0 tokens were added to.
constexpr char kResizedTablesFile[] = "lmeye-resized-embeddings.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";

// What the backbones give before anything is written.
struct Backbones {
  LlmConfig llm;
  ClipConfig clip;
  std::unique_ptr<Tokenizer> tokenizer;
};

absl::StatusOr<Backbones> ReadBackbones(const InitModelOptions& o) {
  for (const auto& [flag, dir] :
       {std::pair<const char*, const std::string&>{"--llm", o.llm_dir}, {"--clip", o.clip_dir}}) {
    std::error_code ec;
    if (dir.empty() || !fs::is_directory(dir, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " ", dir, " is not a directory"));
    }
  }
  Backbones b;
  LMEYE_ASSIGN_OR_RETURN(b.llm, LoadLlmConfig(o.llm_dir));
  LMEYE_ASSIGN_OR_RETURN(b.clip, LoadClipConfig(o.clip_dir));
  if (!b.clip.vision.has_value() || !b.clip.text.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(o.clip_dir, ": needs a full CLIPModel (the vision tower and the text tower)"));
  }
  if (!FileExists(o.clip_dir + "/" + ModelDir::kPreprocessorConfigName)) {
    return absl::InvalidArgumentError(absl::StrCat(o.clip_dir, " has no ",
                                                   ModelDir::kPreprocessorConfigName,
                                                   " (the image preprocessing serving needs)"));
  }
  // Serving and training read the tokenizer from the LLM directory.
  LMEYE_ASSIGN_OR_RETURN(b.tokenizer, LoadTokenizer(o.llm_dir));
  return b;
}

// Links `from` to `to`, or copies it (recursively for a directory).
absl::Status Place(const fs::path& from, const fs::path& to, bool copy) {
  std::error_code ec;
  const fs::path source = fs::absolute(from, ec).lexically_normal();
  if (copy) {
    fs::copy(source, to, fs::copy_options::recursive, ec);
  } else if (fs::is_directory(source, ec)) {
    fs::create_directory_symlink(source, to, ec);
  } else {
    fs::create_symlink(source, to, ec);
  }
  if (ec) {
    return absl::InternalError(absl::StrCat(copy ? "copying " : "linking ", source.string(), " to ",
                                            to.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

// The tensor -> weight file map of the checkpoint Checkpoint::Open reads in `dir` (same order of
// preference), with the name each file gets in the new directory: a single model.safetensors is
// renamed so that the new index, not it, is what a loader opens.
struct WeightFiles {
  std::map<std::string, std::string> weight_map;  // tensor -> file name in the new directory
  std::map<std::string, std::string> renamed;     // source file name -> new file name
};

absl::StatusOr<WeightFiles> ReadWeightFiles(const std::string& dir, const Checkpoint& ckpt) {
  WeightFiles w;
  auto single = [&](const std::string& file, const std::string& as) {
    w.renamed[file] = as;
    for (const std::string& name : ckpt.names()) w.weight_map[name] = as;
    return w;
  };
  if (FileExists(dir + "/model.safetensors")) {
    return single("model.safetensors", "model-00001-of-00001.safetensors");
  }
  for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"}) {
    if (std::string(index) == "pytorch_model.bin.index.json" &&
        FileExists(dir + "/pytorch_model.bin")) {
      return single("pytorch_model.bin", "pytorch_model.bin");
    }
    if (!FileExists(dir + "/" + index)) continue;
    LMEYE_ASSIGN_OR_RETURN(json parsed, ReadJsonFile(dir + "/" + index));
    for (auto it = parsed["weight_map"].begin(); it != parsed["weight_map"].end(); ++it) {
      const std::string file = it.value().get<std::string>();
      w.weight_map[it.key()] = file;
      w.renamed[file] = file;
    }
    return w;
  }
  return absl::NotFoundError(absl::StrCat(dir, " has no weights"));
}

// The tables resize_token_embeddings changes: the input embeddings and, when stored apart (not
// tied), lm_head.
absl::StatusOr<std::vector<std::string>> TableNames(const LlmConfig& config,
                                                    const Checkpoint& ckpt) {
  const LlmTensorNames& n = GetLlmArch(config.family).tensors;
  std::vector<std::string> out;
  for (const std::string& base : n.bases) {
    const std::string name =
        absl::StrCat(base.empty() ? "" : base + ".", n.embed_tokens, ".weight");
    if (ckpt.Contains(name)) {
      out.push_back(name);
      break;
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ckpt.location(), ": no input embedding table (", n.embed_tokens, ")"));
  }
  if (!n.lm_head.empty() && ckpt.Contains(n.lm_head + ".weight")) {
    out.push_back(n.lm_head + ".weight");
  }
  return out;
}

// `table` [rows, d] as resize_token_embeddings(n_rows) leaves it: the first rows kept, new rows
// N(0, std) from `seed`.
at::Tensor Resized(const at::Tensor& table, int64_t n_rows, double init_std, uint64_t seed) {
  const int64_t kept = std::min<int64_t>(table.size(0), n_rows);
  at::Tensor out = at::empty({n_rows, table.size(1)}, table.options());
  out.narrow(0, 0, kept).copy_(table.narrow(0, 0, kept));
  if (n_rows > kept) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    at::Tensor drawn = at::empty({n_rows - kept, table.size(1)}, at::kFloat);
    drawn.normal_(0.0, init_std, gen);
    out.narrow(0, kept, n_rows - kept).copy_(drawn);
  }
  return out;
}

// llm/ for the v0 layout from an LLM without <img> / <img-d>: the release's add_tokens and
// resize_token_embeddings(len(tokenizer)), written beside links to the untouched files.
absl::Status WriteLlmWithImageTokens(const InitModelOptions& o, const Backbones& b,
                                     const std::string& dst, InitModelReport& report) {
  const int64_t img = b.tokenizer->vocab_size(), imgd = img + 1;
  const int64_t n_rows = img + 2;  // len(tokenizer) after the two additions
  std::error_code ec;
  fs::create_directories(dst, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dst, ": ", ec.message()));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(o.llm_dir));
  LMEYE_ASSIGN_OR_RETURN(WeightFiles files, ReadWeightFiles(o.llm_dir, *ckpt));
  LMEYE_ASSIGN_OR_RETURN(std::vector<std::string> tables, TableNames(b.llm, *ckpt));

  for (const auto& entry : fs::directory_iterator(o.llm_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "config.json" || name == "added_tokens.json" || name == kIndexFile ||
        name == "pytorch_model.bin.index.json") {
      continue;  // rewritten below
    }
    const bool weights = absl::EndsWith(name, ".safetensors") || absl::EndsWith(name, ".bin");
    if (weights && files.renamed.count(name) == 0) continue;  // not part of the checkpoint read
    const std::string as = weights ? files.renamed[name] : name;
    LMEYE_RETURN_IF_ERROR(Place(entry.path(), fs::path(dst) / as, o.copy_backbones));
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", o.llm_dir, ": ", ec.message()));

  LMEYE_ASSIGN_OR_RETURN(json config, ReadJsonFile(o.llm_dir + "/config.json"));
  const int64_t old_rows = config.value("vocab_size", b.llm.vocab_size);
  config["vocab_size"] = n_rows;
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(dst + "/config.json", config));
  json added = json::object();
  if (FileExists(o.llm_dir + "/added_tokens.json")) {
    LMEYE_ASSIGN_OR_RETURN(added, ReadJsonFile(o.llm_dir + "/added_tokens.json"));
  }
  added["<img>"] = img;
  added["<img-d>"] = imgd;
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(dst + "/added_tokens.json", added));

  const double init_std = config.value("initializer_range", 0.02);
  std::vector<std::pair<std::string, at::Tensor>> resized;
  LMEYE_RETURN_IF_ERROR(GuardTorch("resizing the LLM's embeddings", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < tables.size(); ++i) {
      const CheckpointTensorInfo* info = ckpt->Info(tables[i]);
      LMEYE_ASSIGN_OR_RETURN(at::Tensor table, ckpt->Load(tables[i], info->dtype));
      resized.emplace_back(tables[i],
                           Resized(table, n_rows, init_std, o.seed + 3 + i).contiguous());
      files.weight_map[tables[i]] = kResizedTablesFile;
    }
    return absl::OkStatus();
  }));
  LMEYE_RETURN_IF_ERROR(WriteSafetensors(dst + "/" + kResizedTablesFile, resized,
                                         {{"format", "pt"}, {"written_by", "lmeye init-model"}}));
  json index = {{"metadata",
                 {{"note",
                   "lmeye init-model: the source's weights with the "
                   "embedding tables resized for <img> and <img-d>"}}},
                {"weight_map", files.weight_map}};
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(dst + "/" + kIndexFile, index));
  report.notes.push_back(absl::StrCat(
      "added <img> = ", img, " and <img-d> = ", imgd, " to the tokenizer; the LLM's ",
      tables.size() == 1 ? "embedding table" : "embedding table and lm_head", " resized from ",
      old_rows, " to ", n_rows, " rows (resize_token_embeddings(len(tokenizer)), new rows N(0, ",
      init_std, "))"));
  return absl::OkStatus();
}

// The v0 adapter's options and a freshly initialised adapter, llm/ made to have the tokens.
absl::Status WriteLingcloudV0(const InitModelOptions& o, const Backbones& b, const std::string& dir,
                              InitModelReport& report) {
  IpnAdapterConfig config;
  config.layout = AdapterLayout::kLingcloudV0;
  const ModelDir layout(dir, config);
  LingcloudV0Config& v0 = config.lingcloud_v0;
  v0.prompt_len = o.prompt_len;
  v0.query_len = o.query_len;
  v0.add_bos = false;
  // A fresh adapter trains (as the release's scripts did) and then serves its own embedding_img;
  // the release's loader reading embedding_imgd in its place concerns its published file only.
  v0.embedding_img_from = "embedding_img";
  const bool has_tokens =
      b.tokenizer->PieceToId("<img>").has_value() || b.tokenizer->PieceToId("<img-d>").has_value();
  int64_t vocab = b.llm.vocab_size;
  if (has_tokens) {
    // Already the release's tokenizer (or one `import`/init-model made): use it as it is.
    LMEYE_RETURN_IF_ERROR(ReadLingcloudV0Tokens(o.llm_dir, *b.tokenizer, vocab, &v0));
    LMEYE_RETURN_IF_ERROR(Place(o.llm_dir, layout.llm_dir(), o.copy_backbones));
  } else {
    LMEYE_RETURN_IF_ERROR(WriteLlmWithImageTokens(o, b, layout.llm_dir(), report));
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> added, LoadTokenizer(layout.llm_dir()));
    LMEYE_ASSIGN_OR_RETURN(LlmConfig resized, LoadLlmConfig(layout.llm_dir()));
    vocab = resized.vocab_size;
    LMEYE_RETURN_IF_ERROR(ReadLingcloudV0Tokens(layout.llm_dir(), *added, vocab, &v0));
  }
  report.vocab_size = vocab;
  std::vector<std::string> lines;
  LMEYE_ASSIGN_OR_RETURN(auto ends, ClipEndIds(o.clip_dir, b.clip.text->vocab_size, &lines));
  report.notes.insert(report.notes.end(), lines.begin(), lines.end());
  v0.clip_bos_id = ends.first;
  v0.clip_eos_id = ends.second;
  LMEYE_RETURN_IF_ERROR(config.Validate());
  LMEYE_RETURN_IF_ERROR(Place(o.clip_dir, layout.vision_dir(), o.copy_backbones));
  LMEYE_RETURN_IF_ERROR(
      init_model_io::WriteText(layout.adapter_config_file(), IpnAdapterConfigToJson(config)));
  LingcloudV0Dims dims;
  dims.d_clip = b.clip.vision->projection_dim;
  dims.d_l = b.llm.embed_dim;
  dims.prompt_len = o.prompt_len;
  dims.query_len = o.query_len;
  return GuardTorch("LingCloud v0 adapter", [&]() -> absl::Status {
    LingcloudV0Adapter adapter(dims);
    adapter->ResetParameters(o.seed);
    for (const auto& p : adapter->parameters()) report.adapter_params += p.numel();
    return SaveLingcloudV0Adapter(*adapter, layout.adapter_weights_file());
  });
}

absl::Status WriteLmeye(const InitModelOptions& o, const Backbones& b, const std::string& dir,
                        InitModelReport& report) {
  IpnAdapterConfig config;
  config.num_fine = o.num_fine;
  const ModelDir layout(dir, config);
  LMEYE_RETURN_IF_ERROR(Place(o.llm_dir, layout.llm_dir(), o.copy_backbones));
  LMEYE_RETURN_IF_ERROR(Place(o.clip_dir, layout.vision_dir(), o.copy_backbones));
  LMEYE_RETURN_IF_ERROR(
      init_model_io::WriteText(layout.adapter_config_file(), IpnAdapterConfigToJson(config)));
  report.vocab_size = b.llm.vocab_size;
  IpnDims dims;
  dims.d_v = b.clip.vision->encoder.hidden_size;  // image_feature: pooled
  dims.d_t = b.clip.text->encoder.hidden_size;
  dims.d_o = dims.d_t;  // text_projection: false
  dims.d_l = b.llm.embed_dim;
  dims.k = config.num_fine;
  return GuardTorch("IPN adapter", [&]() -> absl::Status {
    IpnAdapter adapter(dims);
    adapter->ResetParameters(o.seed);
    for (const auto& p : adapter->parameters()) report.adapter_params += p.numel();
    return SaveIpnAdapter(adapter, layout.adapter_weights_file());
  });
}

// Checks what the layout needs of the backbones' widths and options, before writing.
absl::Status CheckLayout(const InitModelOptions& o, const Backbones& b) {
  const ClipVisionConfig& vision = *b.clip.vision;
  const ClipTextConfig& text = *b.clip.text;
  if (o.layout == "lmeye") {
    IpnAdapterConfig config;
    config.num_fine = o.num_fine;
    LMEYE_RETURN_IF_ERROR(config.Validate());
    return config.CheckTextPositions(text.max_position_embeddings);
  }
  // The release's clip_size is at once the projected image feature (imgLinear, promptMlp input),
  // the text width (promptMlp and llm2clip output) and text_projection's (imgdLinear input).
  const int64_t clip = vision.projection_dim;
  const std::string image =
      absl::StrCat("the CLIP image feature (visual projection) in ", o.clip_dir);
  if (text.encoder.hidden_size != clip) {
    return WidthsDiffer(image, clip, absl::StrCat("the CLIP text width in ", o.clip_dir),
                        text.encoder.hidden_size);
  }
  if (text.projection_dim != clip) {
    return WidthsDiffer(image, clip, absl::StrCat("the CLIP text projection in ", o.clip_dir),
                        text.projection_dim);
  }
  if (o.prompt_len < 1 || o.prompt_len > 64 || o.query_len < 1 || o.query_len > 64) {
    return absl::InvalidArgumentError("--prompt-len and --query-len must be in [1, 64]");
  }
  if (o.prompt_len + 3 > text.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--prompt-len ", o.prompt_len, " + 3 interaction rows exceed the CLIP text tower's ",
        text.max_position_embeddings, " positions"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InitModelReport> InitModelFromBackbones(const InitModelOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.layout != "lmeye" && o.layout != "lingcloud-v0") {
    return absl::InvalidArgumentError(
        absl::StrCat("--layout must be lmeye or lingcloud-v0, got \"", o.layout, "\""));
  }
  if (o.out_dir.empty()) return absl::InvalidArgumentError("an output directory is needed");
  LMEYE_ASSIGN_OR_RETURN(Backbones b, ReadBackbones(o));
  LMEYE_RETURN_IF_ERROR(CheckLayout(o, b));
  const std::string out = init_model_io::StripSlashes(o.out_dir);
  LMEYE_RETURN_IF_ERROR(init_model_io::CheckOutDir(out, o.force));

  InitModelReport report;
  report.out_dir = out;
  report.tokenizer_vocab = b.tokenizer->vocab_size();
  report.special_ids = {b.tokenizer->bos_id(), b.tokenizer->eos_id(), b.tokenizer->pad_id()};
  LMEYE_ASSIGN_OR_RETURN(report.bytes_written,
                         init_model_io::WriteStaged(out, o.force, [&](const std::string& staging) {
                           return o.layout == "lmeye" ? WriteLmeye(o, b, staging, report)
                                                      : WriteLingcloudV0(o, b, staging, report);
                         }));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lmeye
