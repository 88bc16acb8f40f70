#include "model/tools/init_model_v01.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/lingcloud_v01_adapter.h"
#include "model/ipn/model_dir.h"
#include "model/llm/t5_config.h"
#include "model/llm/t5_modules.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tools/init_model_writer.h"
#include "model/vision/blip2_config.h"
#include "model/vision/blip2_vision.h"
#include "model/vision/qformer.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using init_model_io::Fill;
using init_model_io::TensorSpec;

constexpr char kTransformersVersion[] = "4.29.0";  // the BLIP-2 checkpoints' own
const char* const kTokenizerFiles[] = {"spiece.model", "tokenizer_config.json",
                                       "special_tokens_map.json", "added_tokens.json"};

int64_t RoundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// The fills SpecsOf cannot tell from T5's and EVA's own module types: every bias (EVA's q_bias,
// v_bias included) zero, every norm weight one, every other matrix fan-in scaled, so activations
// keep unit scale through 39 + 24 + 24 random layers. Embedding-like tables keep normal(0, 0.02).
void FixFills(std::vector<TensorSpec>& specs) {
  for (TensorSpec& s : specs) {
    const bool table = absl::StrContains(s.name, "shared") ||
                       absl::StrContains(s.name, "embedding") ||
                       absl::StrContains(s.name, "query_tokens");
    if (absl::EndsWith(s.name, "bias") && !absl::StrContains(s.name, "relative_attention_bias")) {
      s.fill = Fill::kZeros;
    } else if (s.shape.size() == 1 &&
               (absl::StrContains(s.name, "norm") || absl::StrContains(s.name, "LayerNorm"))) {
      s.fill = Fill::kOnes;
    } else if (s.shape.size() >= 2 && !table) {
      s.fill = Fill::kFanIn;
    }
  }
}

void Prefix(const std::string& prefix, std::vector<TensorSpec>& specs) {
  for (TensorSpec& s : specs) s.name = prefix + s.name;
}

// vision_model.*, query_tokens, qformer.*, language_model.*: what LingcloudV01Model::Load reads.
absl::StatusOr<std::vector<TensorSpec>> Blip2Specs(const LingcloudV01Preset& p, int64_t t5_vocab) {
  LMEYE_ASSIGN_OR_RETURN(Blip2Config blip2,
                         ParseBlip2Config(Blip2T5ConfigJson(p, t5_vocab, InitDType::kF32),
                                          "generated Blip2 config.json"));
  LMEYE_ASSIGN_OR_RETURN(
      T5Config t5, ParseT5Config(Blip2T5ConfigJson(p, t5_vocab, InitDType::kF32)["text_config"]));
  return GuardTorch("BLIP-2 tensor table", [&]() -> absl::StatusOr<std::vector<TensorSpec>> {
    torch::NoGradGuard no_grad;
    std::vector<TensorSpec> specs;
    {
      Blip2VisionModel vision(blip2.vision);  // CPU: its layers take no device
      specs = init_model_io::SpecsOf(*vision);
      Prefix("vision_model.", specs);
    }
    {
      QFormerRoot qformer(blip2.qformer, blip2.n_query_tokens);
      std::vector<TensorSpec> q = init_model_io::SpecsOf(*qformer);
      specs.insert(specs.end(), q.begin(), q.end());
    }
    {
      T5Tree tree(t5, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
      std::vector<TensorSpec> t = init_model_io::SpecsOf(*tree);
      Prefix("language_model.", t);
      specs.insert(specs.end(), t.begin(), t.end());
    }
    FixFills(specs);
    std::sort(specs.begin(), specs.end(),
              [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
    return specs;
  });
}

struct V01Tokens {
  int64_t vocab = 0;  // ids, the added ones included
  int64_t imgd = -1, imgq = -1;
};

// Copies the T5 tokenizer into `dir` with <img-d> and <img-q> (kept where the source has them,
// else the next two ids, as the release's tokenizer.add_tokens).
absl::StatusOr<V01Tokens> PlaceTokenizer(const std::string& src, const std::string& dir,
                                         std::vector<std::string>& notes) {
  if (!FileExists(src + "/spiece.model")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tokenizer ", src, ": the v0.1 layout needs a T5 tokenizer (spiece.model)"));
  }
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> source, LoadTokenizer(src));
  json added = json::object();
  if (FileExists(src + "/added_tokens.json")) {
    LMEYE_ASSIGN_OR_RETURN(added, ReadJsonFile(src + "/added_tokens.json"));
  }
  int64_t next = source->vocab_size();
  for (const char* piece : {"<img-d>", "<img-q>"}) {
    if (source->PieceToId(piece).has_value()) continue;
    added[piece] = next++;
    notes.push_back(absl::StrCat("added ", piece, " to the tokenizer as id ", next - 1));
  }
  std::error_code ec;
  for (const char* name : kTokenizerFiles) {
    if (std::string(name) == "added_tokens.json") continue;
    if (!FileExists(src + "/" + name)) continue;
    fs::copy_file(src + "/" + name, dir + "/" + name, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("copying ", src, "/", name, ": ", ec.message()));
  }
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(dir + "/added_tokens.json", added));
  return V01Tokens{next, added.value("<img-d>", int64_t{-1}), added.value("<img-q>", int64_t{-1})};
}

absl::Status WriteAll(const InitModelOptions& o, const LingcloudV01Preset& p, InitDType dtype,
                      const std::string& dir, InitModelReport& report) {
  LMEYE_ASSIGN_OR_RETURN(ClipPreset cp, FindClipPreset(p.clip_preset));
  IpnAdapterConfig ac;
  ac.layout = AdapterLayout::kLingcloudV01;
  ac.vision = "blip2";
  ac.llm = "blip2";
  ac.text = "clip";
  const ModelDir layout(dir, ac);
  std::error_code ec;
  fs::create_directories(layout.llm_dir(), ec);
  fs::create_directories(layout.text_dir(), ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, "/*: ", ec.message()));
  const at::ScalarType st = init_model_io::ScalarTypeOf(dtype);

  // Tokenizer first: it fixes T5's table size.
  LMEYE_ASSIGN_OR_RETURN(V01Tokens tokens,
                         PlaceTokenizer(o.tokenizer_dir, layout.llm_dir(), report.notes));
  report.tokenizer_vocab = tokens.vocab;
  int64_t t5_vocab = p.t5_vocab;
  if (t5_vocab < tokens.vocab) {
    t5_vocab = RoundUp(tokens.vocab, 64);
    report.notes.push_back(absl::StrCat("T5 vocab grown from the preset's ", p.t5_vocab, " to ",
                                        t5_vocab, " to cover the tokenizer's ", tokens.vocab,
                                        " ids"));
  }
  report.vocab_size = t5_vocab;

  // The Blip2 directory.
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(layout.llm_dir() + "/config.json",
                                                 Blip2T5ConfigJson(p, t5_vocab, dtype)));
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(layout.llm_dir() + "/preprocessor_config.json",
                                                 BlipPreprocessorJson(p)));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> check, LoadTokenizer(layout.llm_dir()));
  if (check->PieceToId("<img-d>") != tokens.imgd || check->PieceToId("<img-q>") != tokens.imgq) {
    return absl::InternalError(absl::StrCat("tokenizer written to ", layout.llm_dir(),
                                            " does not read back <img-d> ", tokens.imgd,
                                            ", <img-q> ", tokens.imgq));
  }
  LMEYE_ASSIGN_OR_RETURN(std::vector<TensorSpec> blip2, Blip2Specs(p, t5_vocab));
  for (const TensorSpec& s : blip2) {
    (absl::StartsWith(s.name, "language_model.") ? report.llm_params : report.vision_params) +=
        s.numel();
  }
  LMEYE_ASSIGN_OR_RETURN(
      report.n_llm_shards,
      init_model_io::WriteLlmWeights(layout.llm_dir(), blip2, st, o.seed, o.max_shard_bytes));

  // CLIP.
  LMEYE_RETURN_IF_ERROR(
      init_model_io::WriteJson(layout.text_dir() + "/config.json", ClipConfigJson(cp, dtype)));
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteJson(layout.text_dir() + "/preprocessor_config.json",
                                                 ClipPreprocessorJson(cp)));
  LMEYE_ASSIGN_OR_RETURN(std::vector<TensorSpec> clip, init_model_io::ClipSpecs(cp));
  report.clip_params = init_model_io::CountOf(clip);
  LMEYE_RETURN_IF_ERROR(init_model_io::WriteRandomSafetensors(
      layout.text_dir() + "/model.safetensors", clip, st, o.seed + 1));

  // The IPN.
  LingcloudV01Config& v01 = ac.lingcloud_v0_1;
  v01.imgd_len = p.imgd_len;
  v01.imgd_token_id = tokens.imgd;
  v01.imgq_token_id = tokens.imgq;
  v01.clip_eos_id = cp.text_eos_token_id;
  v01.clip_bos_id = cp.text_eos_token_id - 1;  // <|startoftext|> 49406 before <|endoftext|>
  LMEYE_RETURN_IF_ERROR(ac.Validate());
  LMEYE_RETURN_IF_ERROR(
      init_model_io::WriteText(layout.adapter_config_file(), IpnAdapterConfigToJson(ac)));
  LingcloudV01Dims dims;
  dims.d_model = p.d_model;
  dims.d_qformer = p.qformer_hidden;
  dims.d_clip = cp.text_hidden;
  dims.imgd_len = p.imgd_len;
  return GuardTorch("v0.1 adapter", [&]() -> absl::Status {
    LingcloudV01Adapter adapter(dims);
    std::vector<TensorSpec> specs = init_model_io::SpecsOf(*adapter);
    report.adapter_params = init_model_io::CountOf(specs);
    // float32 whatever --dtype, as `lmeye import lingcloud` writes the release's tensors.
    return init_model_io::WriteRandomSafetensors(layout.adapter_weights_file(), specs, at::kFloat,
                                                 o.seed + 2);
  });
}

}  // namespace

json Blip2T5ConfigJson(const LingcloudV01Preset& p, int64_t t5_vocab, InitDType dtype) {
  json vision = {{"model_type", "blip_2_vision_model"},
                 {"hidden_act", "gelu"},
                 {"layer_norm_eps", 1e-5},  // the flan-t5 checkpoints' value
                 {"qkv_bias", true},
                 {"num_channels", 3},
                 {"attention_dropout", 0.0},
                 {"image_size", p.image_size},
                 {"patch_size", p.patch_size},
                 {"hidden_size", p.vision_hidden},
                 {"intermediate_size", p.vision_ffn},
                 {"num_hidden_layers", p.vision_layers},
                 {"num_attention_heads", p.vision_heads}};
  json qformer = {{"model_type", "blip_2_qformer"},
                  {"hidden_act", "gelu"},
                  {"layer_norm_eps", 1e-12},
                  {"hidden_dropout_prob", 0.1},
                  {"attention_probs_dropout_prob", 0.1},
                  {"position_embedding_type", "absolute"},
                  {"encoder_hidden_size", p.vision_hidden},
                  {"hidden_size", p.qformer_hidden},
                  {"intermediate_size", p.qformer_ffn},
                  {"num_hidden_layers", p.qformer_layers},
                  {"num_attention_heads", p.qformer_heads},
                  {"cross_attention_frequency", p.cross_attention_frequency}};
  json text = {{"model_type", "t5"},
               {"architectures", {"T5ForConditionalGeneration"}},
               {"vocab_size", t5_vocab},
               {"feed_forward_proj", "gated-gelu"},
               {"dense_act_fn", "gelu_new"},
               {"is_gated_act", true},
               {"tie_word_embeddings", false},
               {"layer_norm_epsilon", 1e-6},
               {"dropout_rate", 0.1},
               {"decoder_start_token_id", 0},
               {"eos_token_id", 1},
               {"pad_token_id", 0},
               {"is_encoder_decoder", true},
               {"use_cache", true},
               {"d_model", p.d_model},
               {"d_kv", p.d_kv},
               {"num_heads", p.t5_heads},
               {"d_ff", p.d_ff},
               {"num_layers", p.encoder_layers},
               {"num_decoder_layers", p.decoder_layers},
               {"relative_attention_num_buckets", 32},
               {"relative_attention_max_distance", 128}};
  return {{"architectures", {"Blip2ForConditionalGeneration"}},
          {"initializer_factor", 1.0},
          {"initializer_range", 0.02},
          {"model_type", "blip-2"},
          {"num_query_tokens", p.n_query_tokens},
          {"qformer_config", qformer},
          {"text_config", text},
          {"tie_word_embeddings", false},
          {"torch_dtype", init_model_io::TorchDTypeName(dtype)},
          {"transformers_version", kTransformersVersion},
          {"use_decoder_only_language_model", false},
          {"vision_config", vision}};
}

json BlipPreprocessorJson(const LingcloudV01Preset& p) {
  return {{"do_convert_rgb", true},
          {"do_normalize", true},
          {"do_rescale", true},
          {"do_resize", true},
          {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
          {"image_processor_type", "BlipImageProcessor"},
          {"image_std", {0.26862954, 0.26130258, 0.27577711}},
          {"processor_class", "Blip2Processor"},
          {"resample", 3},
          {"rescale_factor", 0.00392156862745098},
          {"size", {{"height", p.image_size}, {"width", p.image_size}}}};
}

absl::StatusOr<InitModelReport> InitLingcloudV01Model(const InitModelOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  LMEYE_ASSIGN_OR_RETURN(LingcloudV01Preset p, FindLingcloudV01Preset(o.v01_preset));
  LMEYE_ASSIGN_OR_RETURN(ClipPreset cp, FindClipPreset(p.clip_preset));
  if (cp.text_hidden != cp.projection_dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "v0.1 preset ", p.name, ": CLIP preset ", cp.name, "'s text width ", cp.text_hidden,
        " differs from its projection ", cp.projection_dim, " (the IPN needs them equal)"));
  }
  if (p.n_query_tokens + p.imgd_len + 2 > cp.text_positions) {
    return absl::InvalidArgumentError(
        absl::StrCat("v0.1 preset ", p.name, ": ", p.n_query_tokens, " queries + ", p.imgd_len,
                     " + 2 rows exceed CLIP's ", cp.text_positions, " positions"));
  }
  if (o.tokenizer_dir.empty()) return absl::InvalidArgumentError("a tokenizer directory is needed");
  if (o.out_dir.empty()) return absl::InvalidArgumentError("an output directory is needed");
  if (o.max_shard_bytes <= 0) return absl::InvalidArgumentError("max_shard_bytes must be > 0");
  const std::string out = init_model_io::StripSlashes(o.out_dir);
  LMEYE_RETURN_IF_ERROR(init_model_io::CheckOutDir(out, o.force));

  InitModelReport report;
  report.out_dir = out;
  report.dtype = o.dtype.value_or(p.default_dtype);
  LMEYE_ASSIGN_OR_RETURN(report.bytes_written,
                         init_model_io::WriteStaged(out, o.force, [&](const std::string& staging) {
                           return WriteAll(o, p, report.dtype, staging, report);
                         }));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lmeye
