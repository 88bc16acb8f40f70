#include "model/tools/init_model.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <utility>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/safetensors.h"
#include "model/ipn/adapter.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_arch.h"
#include "model/llm/llm_modules.h"
#include "model/text/clip_text.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tokenizer/tokenizer_family.h"
#include "model/tools/init_model_backbones.h"
#include "model/tools/init_model_tokenizer.h"
#include "model/tools/init_model_v01.h"
#include "model/tools/init_model_writer.h"
#include "model/vision/clip_vision.h"

namespace lmeye {
namespace {

using init_model_io::CheckOutDir;
using init_model_io::ClipSpecs;
using init_model_io::CountOf;
using init_model_io::ScalarTypeOf;
using init_model_io::SpecsOf;
using init_model_io::StripSlashes;
using init_model_io::TensorSpec;
using init_model_io::TorchDTypeName;
using init_model_io::WriteJson;
using init_model_io::WriteLlmWeights;
using init_model_io::WriteRandomSafetensors;
using init_model_io::WriteStaged;
using init_model_io::WriteText;
namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kTransformersVersion[] = "4.35.2";

int64_t RoundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

json IdOrNull(int64_t id) { return id >= 0 ? json(id) : json(nullptr); }

absl::StatusOr<std::vector<TensorSpec>> LlmSpecs(const LlmPreset& preset, int64_t vocab_size) {
  LMEYE_ASSIGN_OR_RETURN(LlmConfig config,
                         ParseLlmConfig(LlmConfigJson(preset, vocab_size, {}, InitDType::kF32)));
  return GuardTorch("LLM tensor table", [&]() -> absl::StatusOr<std::vector<TensorSpec>> {
    const LlmArch& arch = GetLlmArch(config.family);
    // The meta device gives names and shapes without allocating a single weight.
    const std::string& base = arch.tensors.bases.front();
    CausalLm lm(config, arch, base, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
    std::vector<TensorSpec> specs = SpecsOf(*lm);
    // BLOOM normalises the token embedding before the first layer, so with unit norm weights the
    // input token stays a large part of the residual stream up to the tied lm_head, which then
    // favours repeating it. Scaling that one norm to the embeddings' own 0.02 restores what
    // OPT's unnormalised 0.02 embeddings give: varied greedy text.
    if (!arch.tensors.embed_norm.empty()) {
      const std::string weight =
          absl::StrCat(base.empty() ? "" : base + ".", arch.tensors.embed_norm, ".weight");
      for (TensorSpec& s : specs) {
        if (s.name == weight) s.fill = init_model_io::Fill::kSmall;
      }
    }
    return specs;
  });
}

// Default options (pooled h_I, replace, positions) with the requested K.
IpnAdapterConfig AdapterConfig(const InitModelOptions& o) {
  IpnAdapterConfig ac;
  ac.num_fine = o.num_fine;
  return ac;
}

absl::Status WriteAll(const InitModelOptions& o, const LlmPreset& lp, ClipPreset cp,
                      InitDType dtype, const std::string& dir, InitModelReport& report) {
  const IpnAdapterConfig ac = AdapterConfig(o);
  const ModelDir layout(dir, ac);
  const std::string llm_dir = layout.llm_dir(), clip_dir = layout.vision_dir();
  std::error_code ec;
  fs::create_directories(llm_dir, ec);
  fs::create_directories(clip_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, "/*: ", ec.message()));
  const at::ScalarType st = ScalarTypeOf(dtype);

  // Tokenizer first: it fixes the vocabulary size.
  LMEYE_ASSIGN_OR_RETURN(TokenizerPlan plan, PlanTokenizer(o.tokenizer_dir, o.family));
  report.notes = plan.notes;
  report.tokenizer_vocab = plan.vocab;
  int64_t vocab = lp.vocab_size;
  if (vocab == 0) {
    vocab = RoundUp(plan.vocab, 64);
  } else if (vocab < plan.vocab) {
    vocab = RoundUp(plan.vocab, 64);
    report.notes.push_back(absl::StrCat("vocab grown from the preset's ", lp.vocab_size, " to ",
                                        vocab, " to cover the tokenizer's ", plan.vocab, " ids"));
  }
  report.vocab_size = vocab;
  report.special_ids = plan.ids;
  cp = ResolveClipTextVocab(cp, plan.vocab);

  // LLM.
  const json llm_config = LlmConfigJson(lp, vocab, plan.ids, dtype);
  LMEYE_RETURN_IF_ERROR(WriteJson(llm_dir + "/config.json", llm_config));
  json gen = {{"_from_model_config", true}, {"transformers_version", kTransformersVersion}};
  if (plan.ids.bos >= 0) gen["bos_token_id"] = plan.ids.bos;
  if (plan.ids.eos >= 0) gen["eos_token_id"] = plan.ids.eos;
  if (plan.ids.pad >= 0) gen["pad_token_id"] = plan.ids.pad;
  LMEYE_RETURN_IF_ERROR(WriteJson(llm_dir + "/generation_config.json", gen));
  LMEYE_RETURN_IF_ERROR(CopyTokenizerFiles(o.tokenizer_dir, llm_dir));
  if (!plan.added_tokens.empty()) {
    LMEYE_RETURN_IF_ERROR(WriteJson(llm_dir + "/added_tokens.json", plan.added_tokens));
  }
  LMEYE_RETURN_IF_ERROR(WriteJson(llm_dir + "/tokenizer_config.json", plan.tokenizer_config));
  // The copy must read back as planned under the model's own config (family from model_type).
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> check, LoadTokenizer(llm_dir));
  if (check->bos_id() != plan.ids.bos || check->eos_id() != plan.ids.eos ||
      check->pad_id() != plan.ids.pad || check->vocab_size() > vocab) {
    return absl::InternalError(absl::StrCat(
        "tokenizer written to ", llm_dir, " reads back with bos/eos/pad ", check->bos_id(), "/",
        check->eos_id(), "/", check->pad_id(), " and ", check->vocab_size(), " ids; expected ",
        plan.ids.bos, "/", plan.ids.eos, "/", plan.ids.pad, " within ", vocab));
  }
  LMEYE_ASSIGN_OR_RETURN(std::vector<TensorSpec> llm_specs, LlmSpecs(lp, vocab));
  report.llm_params = CountOf(llm_specs);
  LMEYE_ASSIGN_OR_RETURN(report.n_llm_shards,
                         WriteLlmWeights(llm_dir, llm_specs, st, o.seed, o.max_shard_bytes));

  // CLIP.
  LMEYE_RETURN_IF_ERROR(WriteJson(clip_dir + "/config.json", ClipConfigJson(cp, dtype)));
  LMEYE_RETURN_IF_ERROR(WriteJson(layout.preprocessor_config_file(), ClipPreprocessorJson(cp)));
  LMEYE_ASSIGN_OR_RETURN(std::vector<TensorSpec> clip_specs, ClipSpecs(cp));
  report.clip_params = CountOf(clip_specs);
  LMEYE_RETURN_IF_ERROR(
      WriteRandomSafetensors(clip_dir + "/model.safetensors", clip_specs, st, o.seed + 1));

  LMEYE_RETURN_IF_ERROR(WriteText(layout.adapter_config_file(), IpnAdapterConfigToJson(ac)));
  IpnDims dims;
  dims.d_v = cp.vision_hidden;
  dims.d_t = cp.text_hidden;
  dims.d_o = cp.text_hidden;
  dims.d_l = lp.hidden_size;  // embed_dim: the presets have no OPT project_in/out
  dims.k = ac.num_fine;
  return GuardTorch("IPN adapter", [&]() -> absl::Status {
    IpnAdapter adapter(dims);
    adapter->ResetParameters(o.seed + 2);
    int64_t n = 0;
    for (const auto& p : adapter->parameters()) n += p.numel();
    report.adapter_params = n;
    return SaveIpnAdapter(adapter, layout.adapter_weights_file());
  });
}

}  // namespace

absl::StatusOr<InitDType> ParseInitDType(const std::string& name) {
  if (name == "f32" || name == "float32" || name == "fp32") return InitDType::kF32;
  if (name == "bf16" || name == "bfloat16") return InitDType::kBF16;
  if (name == "f16" || name == "float16" || name == "fp16") return InitDType::kF16;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype \"", name, "\" (valid: f32, bf16, f16)"));
}

const char* InitDTypeName(InitDType dtype) {
  switch (dtype) {
    case InitDType::kF32:
      return "f32";
    case InitDType::kBF16:
      return "bf16";
    case InitDType::kF16:
      return "f16";
  }
  return "?";
}

json LlmConfigJson(const LlmPreset& p, int64_t vocab_size, const LlmSpecialIds& ids,
                   InitDType dtype) {
  const int64_t kv = p.n_kv_heads > 0 ? p.n_kv_heads : p.n_heads;
  json c;
  switch (p.family) {
    case LlmFamily::kOpt:
      c = {{"_remove_final_layer_norm", false},
           {"activation_function", "relu"},
           {"architectures", {"OPTForCausalLM"}},
           {"attention_dropout", 0.0},
           {"do_layer_norm_before", true},
           {"dropout", 0.1},
           {"enable_bias", true},
           {"ffn_dim", p.ffn_dim},
           {"hidden_size", p.hidden_size},
           {"init_std", 0.02},
           {"layer_norm_elementwise_affine", true},
           {"layerdrop", 0.0},
           {"max_position_embeddings", p.max_positions},
           {"model_type", "opt"},
           {"num_attention_heads", p.n_heads},
           {"num_hidden_layers", p.n_layers},
           {"word_embed_proj_dim", p.hidden_size}};
      break;
    case LlmFamily::kBloom:
      c = {{"apply_residual_connection_post_layernorm", false},
           {"architectures", {"BloomForCausalLM"}},
           {"attention_dropout", 0.0},
           {"hidden_dropout", 0.0},
           {"hidden_size", p.hidden_size},
           {"initializer_range", 0.02},
           {"layer_norm_epsilon", p.norm_eps},
           {"model_type", "bloom"},
           {"n_head", p.n_heads},
           {"n_layer", p.n_layers},
           {"pretraining_tp", 1},
           {"slow_but_exact", false}};
      break;
    case LlmFamily::kLlama:
      c = {{"architectures", {"LlamaForCausalLM"}},
           {"attention_bias", false},
           {"hidden_act", "silu"},
           {"hidden_size", p.hidden_size},
           {"initializer_range", 0.02},
           {"intermediate_size", p.ffn_dim},
           {"max_position_embeddings", p.max_positions},
           {"model_type", "llama"},
           {"num_attention_heads", p.n_heads},
           {"num_hidden_layers", p.n_layers},
           {"num_key_value_heads", kv},
           {"pretraining_tp", 1},
           {"rms_norm_eps", p.norm_eps},
           {"rope_scaling", nullptr},
           {"rope_theta", 10000.0},
           {"tie_word_embeddings", false}};
      break;
  }
  c["bos_token_id"] = IdOrNull(ids.bos);
  c["eos_token_id"] = IdOrNull(ids.eos);
  c["pad_token_id"] = IdOrNull(ids.pad);
  c["torch_dtype"] = TorchDTypeName(dtype);
  c["transformers_version"] = kTransformersVersion;
  c["use_cache"] = true;
  c["vocab_size"] = vocab_size;
  return c;
}

json ClipConfigJson(const ClipPreset& p, InitDType dtype) {
  // The legacy ids (openai/clip-vit-*) with the legacy EOS rule, transformers' defaults else.
  const bool legacy = p.text_eos_token_id == 2;
  json text = {{"bos_token_id", legacy ? 0 : 49406},
               {"eos_token_id", p.text_eos_token_id},
               {"pad_token_id", 1},
               {"hidden_act", "quick_gelu"},
               {"hidden_size", p.text_hidden},
               {"intermediate_size", p.text_ffn},
               {"max_position_embeddings", p.text_positions},
               {"model_type", "clip_text_model"},
               {"num_attention_heads", p.text_heads},
               {"num_hidden_layers", p.text_layers},
               {"projection_dim", p.projection_dim},
               {"vocab_size", p.text_vocab}};
  json vision = {{"hidden_act", "quick_gelu"},
                 {"hidden_size", p.vision_hidden},
                 {"image_size", p.image_size},
                 {"intermediate_size", p.vision_ffn},
                 {"model_type", "clip_vision_model"},
                 {"num_attention_heads", p.vision_heads},
                 {"num_channels", 3},
                 {"num_hidden_layers", p.vision_layers},
                 {"patch_size", p.patch_size},
                 {"projection_dim", p.projection_dim}};
  return {{"architectures", {"CLIPModel"}},
          {"initializer_factor", 1.0},
          {"logit_scale_init_value", 2.6592},
          {"model_type", "clip"},
          {"projection_dim", p.projection_dim},
          {"text_config", text},
          {"torch_dtype", TorchDTypeName(dtype)},
          {"transformers_version", kTransformersVersion},
          {"vision_config", vision}};
}

json ClipPreprocessorJson(const ClipPreset& p) {
  return {{"crop_size", {{"height", p.image_size}, {"width", p.image_size}}},
          {"do_center_crop", true},
          {"do_convert_rgb", true},
          {"do_normalize", true},
          {"do_rescale", true},
          {"do_resize", true},
          {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
          {"image_processor_type", "CLIPImageProcessor"},
          {"image_std", {0.26862954, 0.26130258, 0.27577711}},
          {"resample", 3},
          {"rescale_factor", 0.00392156862745098},
          {"size", {{"shortest_edge", p.image_size}}}};
}

absl::StatusOr<int64_t> LlmPresetParameterCount(const LlmPreset& preset, int64_t vocab_size) {
  LMEYE_ASSIGN_OR_RETURN(std::vector<TensorSpec> specs, LlmSpecs(preset, vocab_size));
  return CountOf(specs);
}

absl::StatusOr<int64_t> ClipPresetParameterCount(const ClipPreset& preset) {
  LMEYE_ASSIGN_OR_RETURN(std::vector<TensorSpec> specs, ClipSpecs(preset));
  return CountOf(specs);
}

absl::StatusOr<InitModelReport> InitModel(const InitModelOptions& o) {
  if (!o.v01_preset.empty()) return InitLingcloudV01Model(o);
  if (!o.llm_dir.empty() || !o.clip_dir.empty()) return InitModelFromBackbones(o);
  const auto start = std::chrono::steady_clock::now();
  LMEYE_ASSIGN_OR_RETURN(LlmPreset lp, FindLlmPreset(o.family, o.llm_preset));
  LMEYE_ASSIGN_OR_RETURN(ClipPreset cp, FindClipPreset(o.clip_preset));
  if (o.image_size != 0) {
    if (o.image_size < 0 || o.image_size % cp.patch_size != 0) {
      return absl::InvalidArgumentError(absl::StrCat("image_size ", o.image_size,
                                                     " must be a positive multiple of clip preset ",
                                                     cp.name, "'s patch size ", cp.patch_size));
    }
    cp.image_size = o.image_size;
  }
  if (o.tokenizer_dir.empty()) return absl::InvalidArgumentError("a tokenizer directory is needed");
  if (o.out_dir.empty()) return absl::InvalidArgumentError("an output directory is needed");
  if (o.max_shard_bytes <= 0) return absl::InvalidArgumentError("max_shard_bytes must be > 0");
  // Checked before anything is written.
  const IpnAdapterConfig adapter = AdapterConfig(o);
  LMEYE_RETURN_IF_ERROR(adapter.Validate());
  if (absl::Status fits = adapter.CheckTextPositions(cp.text_positions); !fits.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("clip preset ", cp.name, ": ", fits.message()));
  }
  const std::string out = StripSlashes(o.out_dir);
  LMEYE_RETURN_IF_ERROR(CheckOutDir(out, o.force));

  InitModelReport report;
  report.out_dir = out;
  report.dtype = o.dtype.value_or(lp.default_dtype);
  LMEYE_ASSIGN_OR_RETURN(report.bytes_written,
                         WriteStaged(out, o.force, [&](const std::string& staging) {
                           return WriteAll(o, lp, cp, report.dtype, staging, report);
                         }));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lmeye
