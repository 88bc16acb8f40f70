#include "model/tools/gguf_vocab.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/spm_model_proto.h"

namespace lmeye {

absl::StatusOr<GgufVocab> ReadGgufVocab(const std::string& llm_dir, int64_t vocab_size) {
  const std::string spm_path = llm_dir + "/tokenizer.model";
  if (!FileExists(spm_path)) {
    return absl::UnimplementedError(
        absl::StrCat("GGUF export needs a SentencePiece tokenizer.model in ", llm_dir,
                     " (LLaMA's); byte-level BPE vocabularies are not exported"));
  }
  LMEYE_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(spm_path));
  LMEYE_ASSIGN_OR_RETURN(SpmModelProto proto, ParseSpmModelProto(bytes));
  GgufVocab v;
  for (const SpmPieceProto& p : proto.pieces) {
    const int id = static_cast<int>(v.tokens.size());
    v.tokens.push_back(p.piece);
    v.scores.push_back(p.score);
    v.token_types.push_back(static_cast<int32_t>(p.type));
    if (p.type == SpmPieceType::kUnknown) v.unk = id;
    if (p.piece == (proto.trainer_spec.bos_piece.empty() ? "<s>" : proto.trainer_spec.bos_piece)) {
      v.bos = id;
    }
    if (p.piece == (proto.trainer_spec.eos_piece.empty() ? "</s>" : proto.trainer_spec.eos_piece)) {
      v.eos = id;
    }
  }
  // added_tokens.json: {"<content>": id}, ids after the pieces.
  const std::string added_path = llm_dir + "/added_tokens.json";
  if (FileExists(added_path)) {
    LMEYE_ASSIGN_OR_RETURN(nlohmann::json added, ReadJsonFile(added_path));
    for (auto it = added.begin(); it != added.end(); ++it) {
      if (!it.value().is_number_integer()) {
        return absl::InvalidArgumentError(
            absl::StrCat(added_path, ": ", it.key(), " is not an id"));
      }
      const int64_t id = it.value().get<int64_t>();
      if (id < static_cast<int64_t>(proto.pieces.size())) continue;  // an existing piece
      if (id >= vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(added_path, ": id ", id, " of ", it.key(),
                                                       " is past the model's ", vocab_size));
      }
      if (static_cast<int64_t>(v.tokens.size()) <= id) {
        v.tokens.resize(id + 1);
        v.scores.resize(id + 1, -1000.0f);
        v.token_types.resize(id + 1, static_cast<int32_t>(SpmPieceType::kUnused));
      }
      v.tokens[id] = it.key();
      v.scores[id] = 0.0f;
      v.token_types[id] = static_cast<int32_t>(SpmPieceType::kControl);
    }
  }
  if (static_cast<int64_t>(v.tokens.size()) > vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("the tokenizer has ", v.tokens.size(),
                                                   " ids, the model's embeddings ", vocab_size));
  }
  for (int64_t id = 0; id < vocab_size; ++id) {
    if (id < static_cast<int64_t>(v.tokens.size()) && !v.tokens[id].empty()) continue;
    if (id >= static_cast<int64_t>(v.tokens.size())) {
      v.tokens.emplace_back();
      v.scores.push_back(-1000.0f);
      v.token_types.push_back(static_cast<int32_t>(SpmPieceType::kUnused));
    }
    v.tokens[id] = absl::StrCat("[PAD", id, "]");
  }
  // LLaMA's pad is its unk (init-model and the released checkpoints agree).
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonFile(llm_dir + "/config.json"));
  if (config.contains("pad_token_id") && config["pad_token_id"].is_number_integer()) {
    v.pad = config["pad_token_id"].get<int64_t>();
  }
  return v;
}

void AddGgufVocab(const GgufVocab& v, GgufWriter& w) {
  w.AddString("tokenizer.ggml.model", v.model);
  w.AddStringArray("tokenizer.ggml.tokens", v.tokens);
  w.AddFloat32Array("tokenizer.ggml.scores", v.scores);
  w.AddInt32Array("tokenizer.ggml.token_type", v.token_types);
  if (v.bos >= 0) w.AddUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
  if (v.eos >= 0) w.AddUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
  if (v.unk >= 0) w.AddUint32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk));
  if (v.pad >= 0) w.AddUint32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(v.pad));
  w.AddBool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.AddBool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace lmeye
