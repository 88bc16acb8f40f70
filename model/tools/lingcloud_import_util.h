// What the imports of both released LMEye layouts share (lingcloud_import.h): reading the
// release's `net` from its .pth, describing tensors in torch's words, width-mismatch errors, the
// CLIP tokenizer's end ids, and writing the output directory.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/io/torch_checkpoint.h"
#include "model/ipn/adapter_config.h"
#include "model/tokenizer/tokenizer.h"
#include "model/tools/lingcloud_import.h"

namespace lmeye {

// The IPN parameters of a release checkpoint: the 'net' entry of {'net', 'optimizer', 'epoch'}
// (or the whole dict when it is a plain state dict), DistributedDataParallel's "module." removed.
struct ReleaseNet {
  std::unique_ptr<TorchCheckpoint> checkpoint;
  std::vector<TorchTensorInfo> tensors;                   // file order
  std::map<std::string, const TorchTensorInfo*> by_name;  // into `tensors`
  bool has(const std::string& name) const { return by_name.count(name) > 0; }
  const std::vector<int64_t>& shape(const std::string& name) const {
    return by_name.at(name)->shape;
  }
};

// Opens `path` and lists what it holds into `lines` (entries, tensors with dtype and shape).
absl::StatusOr<ReleaseNet> ReadReleaseNet(const std::string& path, std::vector<std::string>* lines);

// INVALID_ARGUMENT naming the first of `keys` that is missing, as not a checkpoint of `layout`.
absl::Status RequireKeys(const ReleaseNet& net, const std::string& path, const std::string& layout,
                         const std::vector<std::string>& keys);
// INVALID_ARGUMENT unless `key` has shape `want`.
absl::Status ExpectShape(const ReleaseNet& net, const std::string& path, const std::string& key,
                         const std::vector<int64_t>& want);
// Notes each tensor outside `keys` as ignored.
void NoteIgnored(const ReleaseNet& net, const std::vector<std::string>& keys,
                 std::vector<std::string>* lines);
// `keys` loaded as float32 (float16 values convert exactly), in the given order.
absl::StatusOr<std::vector<std::pair<std::string, at::Tensor>>> LoadFloat32(
    const ReleaseNet& net, const std::vector<std::string>& keys);

// torch's spelling of a dtype ("float16", as torch.float16 prints).
std::string TorchDtypeName(at::ScalarType type);
std::string ShapeString(const std::vector<int64_t>& shape);
// INVALID_ARGUMENT "width mismatch: <what> is <width> but <other> is <other_width>".
absl::Status WidthsDiffer(const std::string& what, int64_t width, const std::string& other,
                          int64_t other_width);
// The same for a checkpoint's width against a backbone's.
absl::Status WidthMismatch(const std::string& what, int64_t checkpoint, const std::string& backbone,
                           int64_t width);

// The v0 token ids of an LLM directory's tokenizer (<img>, <img-d>, which must be within the LLM's
// `llm_vocab` rows) and its tokenization rule (docs/LINGCLOUD.md ambiguity 5) into `v0`.
absl::Status ReadLingcloudV0Tokens(const std::string& llm_dir, const Tokenizer& tokenizer,
                                   int64_t llm_vocab, LingcloudV0Config* v0);

// The CLIP tokenizer's <|startoftext|> and <|endoftext|> ids: from vocab.json when the directory
// has it (the openai vocabulary ends with them), else the last two ids with a note.
absl::StatusOr<std::pair<int64_t, int64_t>> ClipEndIds(const std::string& clip_dir,
                                                       int64_t vocab_size,
                                                       std::vector<std::string>* lines);

// The v0.1 import (lingcloud_v01_import.cc) of a checkpoint ImportLingcloud has read.
absl::Status ImportLingcloudV01(const LingcloudImportOptions& options, const ReleaseNet& net,
                                std::vector<std::string>& lines);

// Creates `out`, which must not exist or be empty (an import writes a new model directory).
absl::Status PrepareOutDir(const std::string& out);
// `to` becomes a link to (or a recursive copy of) `from`.
absl::Status PlaceBackbone(const std::string& from, const std::string& to, bool copy);

}  // namespace lmeye
