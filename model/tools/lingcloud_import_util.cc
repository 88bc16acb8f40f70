#include "model/tools/lingcloud_import_util.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {

namespace fs = std::filesystem;

absl::StatusOr<ReleaseNet> ReadReleaseNet(const std::string& path,
                                          std::vector<std::string>* lines) {
  ReleaseNet net;
  LMEYE_ASSIGN_OR_RETURN(net.checkpoint, TorchCheckpoint::Open(path));
  lines->push_back(absl::StrCat("checkpoint: ", path, " (",
                                net.checkpoint->format() == TorchFormat::kZip ? "zip" : "legacy",
                                " torch.save format)"));
  std::string entry;
  for (const TorchTopLevelEntry& e : net.checkpoint->TopLevel()) {
    lines->push_back(absl::StrCat("  entry '", e.key, "': ", e.summary,
                                  e.key == "net" ? "" : " (not needed, skipped)"));
    if (e.key == "net") entry = "net";
  }
  LMEYE_ASSIGN_OR_RETURN(net.tensors, net.checkpoint->Tensors(entry));
  bool ddp = !net.tensors.empty();
  for (const TorchTensorInfo& t : net.tensors) ddp = ddp && absl::StartsWith(t.name, "module.");
  if (ddp) {
    TorchReadOptions strip;
    strip.strip_ddp_prefix = true;
    LMEYE_ASSIGN_OR_RETURN(net.tensors, net.checkpoint->Tensors(entry, strip));
    lines->push_back("  names carry DistributedDataParallel's \"module.\" prefix: removed");
  }
  for (const TorchTensorInfo& t : net.tensors) {
    net.by_name[t.name] = &t;
    lines->push_back(absl::StrCat("  ", t.name, " ", TorchDtypeName(t.dtype), " ",
                                  ShapeString(t.shape), t.requires_grad ? "" : " (frozen)"));
  }
  return net;
}

absl::Status RequireKeys(const ReleaseNet& net, const std::string& path, const std::string& layout,
                         const std::vector<std::string>& keys) {
  std::vector<std::string> missing;
  for (const std::string& key : keys) {
    if (!net.has(key)) missing.push_back(key);
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": not a ", layout, " IPN checkpoint: missing ", absl::StrJoin(missing, ", ")));
}

absl::Status ExpectShape(const ReleaseNet& net, const std::string& path, const std::string& key,
                         const std::vector<int64_t>& want) {
  if (net.shape(key) == want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": ", key, " is ", ShapeString(net.shape(key)), ", expected ", ShapeString(want)));
}

void NoteIgnored(const ReleaseNet& net, const std::vector<std::string>& keys,
                 std::vector<std::string>* lines) {
  for (const TorchTensorInfo& t : net.tensors) {
    if (std::find(keys.begin(), keys.end(), t.name) == keys.end()) {
      lines->push_back(absl::StrCat("  ", t.name, ": not an IPN parameter, ignored"));
    }
  }
}

absl::StatusOr<std::vector<std::pair<std::string, at::Tensor>>> LoadFloat32(
    const ReleaseNet& net, const std::vector<std::string>& keys) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const std::string& key : keys) {
    LMEYE_ASSIGN_OR_RETURN(at::Tensor t, net.checkpoint->Load(*net.by_name.at(key)));
    out.emplace_back(key, t.to(at::kFloat).contiguous());
  }
  return out;
}

std::string TorchDtypeName(at::ScalarType t) {
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

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status WidthsDiffer(const std::string& what, int64_t width, const std::string& other,
                          int64_t other_width) {
  return absl::InvalidArgumentError(
      absl::StrCat("width mismatch: ", what, " is ", width, " but ", other, " is ", other_width));
}

absl::Status WidthMismatch(const std::string& what, int64_t checkpoint, const std::string& backbone,
                           int64_t width) {
  return WidthsDiffer(absl::StrCat(what, " (in the checkpoint)"), checkpoint, backbone, width);
}

absl::Status ReadLingcloudV0Tokens(const std::string& llm_dir, const Tokenizer& tokenizer,
                                   int64_t llm_vocab, LingcloudV0Config* v0) {
  for (const auto& [piece, out] : {std::pair<const char*, int64_t*>{"<img>", &v0->img_token_id},
                                   {"<img-d>", &v0->imgd_token_id}}) {
    std::optional<int> id = tokenizer.PieceToId(piece);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(llm_dir, ": the tokenizer has no ", piece,
                       " token; the release adds <img> and <img-d> (tokenizer.add_tokens) and "
                       "resizes the LLM's embeddings to match"));
    }
    if (*id >= llm_vocab) {
      return WidthsDiffer(absl::StrCat("the ", piece, " id"), *id,
                          absl::StrCat("the LLM's vocab_size in ", llm_dir), llm_vocab);
    }
    *out = *id;
  }
  // transformers 4.29's slow tokenizers (LLaMA's SentencePiece) strip the spaces around added
  // tokens; fast ones (BLOOM's tokenizer.json) keep them.
  v0->strip_around_image_tokens = tokenizer.family() == TokenizerFamily::kLlama;
  return absl::OkStatus();
}

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

}  // namespace lmeye
