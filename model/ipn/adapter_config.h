// `adapter.json`: the options of an IPN adapter and where its frozen backbones live. Two layouts
// share the file: this project's own IPN (docs/DESIGN.md section 2, the default) and the released
// LMEye v0 (`"layout": "lingcloud-v0"`, docs/LINGCLOUD.md), whose options sit in one nested
// object `"lingcloud_v0"`.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

enum class IpnCombine {
  kReplace,  // h_d replaces the <img-d> embedding (the paper)
  kAdd,      // h_d is added to ipn.imgd_token (the reference code)
};

enum class IpnImageFeature {
  kPooled,     // h_I = CLIP vision pooler_output (post-layernorm CLS), width d_v = vision hidden
  kProjected,  // h_I = visual_projection(pooler_output), width = CLIP projection_dim
};

enum class AdapterLayout {
  kLmeye,        // this project's IPN: img_token, align, imgd_token, request, decompose, transmit
  kLingcloudV0,  // the released v0: embedding_img(d), imgLinear, promptMlp, llm2clip, imgdLinear
  // the released v0.1 on BLIP-2 Flan-T5: instruction_* and a re-trained language_projection
  kLingcloudV01,
};

// The released v0's options, as `lmeye import lingcloud` states them.
struct LingcloudV0Config {
  int prompt_len = 5;  // soft prompt rows of the CLIP text interaction
  int query_len = 5;   // <img-d> positions, one vector each
  // Token ids the release added to the LLM's tokenizer (tokenizer.vocab_size and + 1).
  int64_t img_token_id = -1;
  int64_t imgd_token_id = -1;
  // The CLIP tokenizer's <|startoftext|> and <|endoftext|>: the interaction's first and last rows.
  int64_t clip_bos_id = -1;
  int64_t clip_eos_id = -1;
  // The stored tensor the model uses as embedding_img: "embedding_imgd" reproduces the release's
  // loader (its substring test overwrites embedding_img with embedding_imgd), "embedding_img" is
  // the value the training script meant.
  std::string embedding_img_from = "embedding_imgd";
  // Whitespace around <img> / <img-d> is stripped before tokenizing the text between them, as
  // transformers 4.29's slow tokenizers (LLaMA) do; false for fast ones (BLOOM).
  bool strip_around_image_tokens = true;
  bool add_bos = false;  // LLMEye_test.py's --add_bos: BOS before the prompt
  // Which LLM state of the first pass the request reads at the first <img-d> (the release's
  // `self.llm(...)[2]` of a missing patched transformers, docs/LINGCLOUD.md ambiguity 1):
  // "final_norm" = the last layer after the final norm (what lm_head reads), "pre_norm" = before
  // it.
  std::string first_pass_hidden = "final_norm";
  bool first_pass_pre_norm() const { return first_pass_hidden == "pre_norm"; }
};

// The released v0.1's options (docs/LINGCLOUD.md "LMEye v0.1"), as `lmeye import lingcloud`
// states them. Its backbones: `vision` and `llm` both name the Blip2 directory (vision tower,
// Q-Former, T5), `text` the CLIP model whose text tower runs the interaction.
struct LingcloudV01Config {
  int imgd_len = 5;  // <img-d> rows of the prompt, one interaction vector each
  // Token ids the release added to the T5 tokenizer (<img-d> = n + 100, <img-q> = n + 101).
  int64_t imgd_token_id = -1;
  int64_t imgq_token_id = -1;
  // The CLIP tokenizer's <|startoftext|> and <|endoftext|>: the interaction's first and last rows.
  int64_t clip_bos_id = -1;
  int64_t clip_eos_id = -1;
  // Which interaction rows feed text_projection: "last" = the last imgd_len rows, as the release
  // takes them (`[:, -5:]`: four request rows and <|endoftext|>, ambiguity 9); "request" = the
  // imgd_len request rows, as meant.
  std::string clip_rows = "last";
};

struct IpnAdapterConfig {
  AdapterLayout layout = AdapterLayout::kLmeye;
  LingcloudV0Config lingcloud_v0;     // layout kLingcloudV0 only
  LingcloudV01Config lingcloud_v0_1;  // layout kLingcloudV01 only
  int version = 1;
  int num_fine = 5;  // K: rows h_I is decomposed into for the interaction
  IpnCombine combine = IpnCombine::kReplace;
  bool text_projection = false;  // transmit consumes text_projection(o) instead of o
  IpnImageFeature image_feature = IpnImageFeature::kPooled;
  bool interaction_positions = true;  // add CLIP text position embeddings to the K+2 rows
  // Backbone directories, relative to the LMEye model directory.
  std::string vision = "clip";
  std::string text = "clip";
  std::string llm = "llm";

  // Checks option values (num_fine >= 1, relative backbone paths...).
  absl::Status Validate() const;
  // InvalidArgument when the K + 2 interaction rows need more position embeddings than a text
  // tower with `text_positions` has (only with interaction_positions).
  absl::Status CheckTextPositions(int64_t text_positions) const;
};

// The nested objects of the LingCloud layouts (lingcloud_adapter_config.cc): parse without range
// checks (Validate's), validate, and write.
absl::Status ParseLingcloudV0Config(const nlohmann::json& object, LingcloudV0Config* config);
absl::Status ParseLingcloudV01Config(const nlohmann::json& object, LingcloudV01Config* config);
absl::Status ValidateLingcloudV0Config(const LingcloudV0Config& config);
absl::Status ValidateLingcloudV01Config(const LingcloudV01Config& config);
nlohmann::ordered_json LingcloudV0ConfigToJson(const LingcloudV0Config& config);
nlohmann::ordered_json LingcloudV01ConfigToJson(const LingcloudV01Config& config);

// Parses adapter.json text. Unknown keys are an error (a typo must not silently mean a default).
absl::StatusOr<IpnAdapterConfig> ParseIpnAdapterConfig(const std::string& json_text);
absl::StatusOr<IpnAdapterConfig> ReadIpnAdapterConfig(const std::string& path);
std::string IpnAdapterConfigToJson(const IpnAdapterConfig& config);

}  // namespace lmeye
