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
#include "model/tools/init_model_tokenizer.h"
#include "model/vision/clip_vision.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kTransformersVersion[] = "4.35.2";
// Largest chunk of one tensor generated at a time (elements): bounds RAM for 1B-element
// embedding tables (BLOOM's 250880 x 4096) to ~256 MB of float32.
constexpr int64_t kChunkElements = int64_t{64} << 20;

const char* TorchDTypeName(InitDType d) {
  switch (d) {
    case InitDType::kF32:
      return "float32";
    case InitDType::kBF16:
      return "bfloat16";
    case InitDType::kF16:
      return "float16";
  }
  return "float32";
}

at::ScalarType ScalarTypeOf(InitDType d) {
  switch (d) {
    case InitDType::kF32:
      return at::kFloat;
    case InitDType::kBF16:
      return at::kBFloat16;
    case InitDType::kF16:
      return at::kHalf;
  }
  return at::kFloat;
}

int64_t RoundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

json IdOrNull(int64_t id) { return id >= 0 ? json(id) : json(nullptr); }

// ---------------------------------------------------------------------------------------------
// Tensor specs: names and shapes from the modules, and how each is initialised.

enum class Fill {
  kNormal,      // normal(0, 0.02): embedding tables, CLIP's class embedding
  kFanIn,       // normal(0, 1/sqrt(fan_in)): linear and convolution weights
  kZeros,       // biases
  kOnes,        // norm weights
  kSmall,       // constant 0.02: BLOOM's embedding layer norm weight (see LlmSpecs)
  kLogitScale,  // CLIP's temperature
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  Fill fill = Fill::kNormal;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// Every parameter of `root`, named as the checkpoint keys (module names are the HF keys).
// Norm weights (the LLM's Norm, torch's LayerNorm) start at one, biases at zero, linear and
// convolution weights at normal(0, 1/sqrt(fan_in)), the rest (embedding tables) at
// normal(0, 0.02). Why not 0.02 everywhere, as transformers does: with tied embeddings (OPT,
// BLOOM) and few layers the residual stream would stay dominated by the input token's 0.02-sized
// embedding, and greedy decoding would repeat the prompt's last token forever. Unit-scale layer
// outputs make each layer matter, so random models give varied text.
std::vector<TensorSpec> SpecsOf(torch::nn::Module& root) {
  std::vector<TensorSpec> out;
  for (const auto& item : root.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const std::shared_ptr<torch::nn::Module>& m = item.value();
    const bool is_norm = dynamic_cast<NormImpl*>(m.get()) != nullptr ||
                         dynamic_cast<torch::nn::LayerNormImpl*>(m.get()) != nullptr;
    const bool is_linear = dynamic_cast<LinearImpl*>(m.get()) != nullptr ||
                           dynamic_cast<torch::nn::LinearImpl*>(m.get()) != nullptr ||
                           dynamic_cast<torch::nn::Conv2dImpl*>(m.get()) != nullptr;
    for (const auto& p : m->named_parameters(/*recurse=*/false)) {
      TensorSpec s;
      s.name = item.key().empty() ? p.key() : absl::StrCat(item.key(), ".", p.key());
      s.shape = p.value().sizes().vec();
      if (p.key() == "bias") {
        s.fill = Fill::kZeros;
      } else if (is_norm && p.key() == "weight") {
        s.fill = Fill::kOnes;
      } else if (is_linear && p.key() == "weight") {
        s.fill = Fill::kFanIn;
      }
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
  return out;
}

int64_t CountOf(const std::vector<TensorSpec>& specs) {
  int64_t n = 0;
  for (const TensorSpec& s : specs) n += s.numel();
  return n;
}

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
        if (s.name == weight) s.fill = Fill::kSmall;
      }
    }
    return specs;
  });
}

absl::StatusOr<std::vector<TensorSpec>> ClipSpecs(const ClipPreset& preset) {
  LMEYE_ASSIGN_OR_RETURN(ClipConfig config, ParseClipConfig(ClipConfigJson(preset, InitDType::kF32),
                                                            "generated CLIP config.json"));
  return GuardTorch("CLIP tensor table", [&]() -> absl::StatusOr<std::vector<TensorSpec>> {
    // torch::nn layers allocate (and initialise) on the CPU; built one tower at a time, the
    // largest preset (vit-l-14) peaks at ~1.2 GB and is freed before any weight is written.
    std::vector<TensorSpec> specs;
    {
      ClipVisionModel vision(*config.vision, /*with_projection=*/true);
      specs = SpecsOf(*vision);
    }
    {
      ClipTextModel text(*config.text, /*with_projection=*/true);
      std::vector<TensorSpec> t = SpecsOf(*text);
      specs.insert(specs.end(), t.begin(), t.end());
    }
    // CLIPModel's temperature: a scalar that CLIP checkpoints carry (the towers ignore it).
    specs.push_back({"logit_scale", {}, Fill::kLogitScale});
    std::sort(specs.begin(), specs.end(),
              [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
    return specs;
  });
}

// ---------------------------------------------------------------------------------------------
// Streaming safetensors writer.

std::string ErrnoText() { return std::strerror(errno); }

// FNV-1a of the name mixed with the seed: each tensor's own generator seed.
uint64_t TensorSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

class FileWriter {
 public:
  ~FileWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
      return absl::InternalError(absl::StrCat("cannot create ", path, ": ", ErrnoText()));
    return absl::OkStatus();
  }
  absl::Status Write(const void* data, size_t n) {
    const char* c = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, c, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat("writing ", path_, ": ", ErrnoText()));
      }
      c += w;
      n -= static_cast<size_t>(w);
    }
    return absl::OkStatus();
  }
  // fsync + close: the staging directory is renamed into place only after every file is durable.
  absl::Status Close() {
    const bool ok = ::fsync(fd_) == 0;
    const std::string err = ok ? "" : ErrnoText();
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (!ok || !closed) return absl::InternalError(absl::StrCat("closing ", path_, ": ", err));
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Writes `specs` (sorted by name) to `path` as safetensors in `dtype`: the header first, from
// the known shapes, then each tensor generated in row chunks and appended. Peak memory is one
// chunk, whatever the file size.
absl::Status WriteRandomSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                                    at::ScalarType dtype, uint64_t seed) {
  LMEYE_ASSIGN_OR_RETURN(SafetensorsDType st_dtype, FromScalarType(dtype));
  const int64_t item = SafetensorsDTypeSize(st_dtype);
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorSpec& s : specs) {
    const uint64_t n = static_cast<uint64_t>(s.numel() * item);
    header[s.name] = {{"dtype", std::string(SafetensorsDTypeName(st_dtype))},
                      {"shape", s.shape},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // 8-byte aligned data, as the reference writer
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));

  FileWriter file;
  LMEYE_RETURN_IF_ERROR(file.Open(path));
  LMEYE_RETURN_IF_ERROR(file.Write(len, 8));
  LMEYE_RETURN_IF_ERROR(file.Write(text.data(), text.size()));
  LMEYE_RETURN_IF_ERROR(GuardTorch(absl::StrCat("generating ", path), [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    for (const TensorSpec& s : specs) {
      at::Generator gen = at::detail::createCPUGenerator(TensorSeed(seed, s.name));
      std::vector<int64_t> shape = s.shape;
      const int64_t rows = shape.empty() ? 1 : shape[0];
      const int64_t row_elems = rows == 0 ? 0 : s.numel() / rows;
      const int64_t step = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(1, row_elems));
      for (int64_t r = 0; r < rows; r += step) {
        if (!shape.empty()) shape[0] = std::min(step, rows - r);
        at::Tensor chunk;
        switch (s.fill) {
          case Fill::kNormal:
            chunk = at::normal(0.0, 0.02, shape, gen, at::TensorOptions().dtype(at::kFloat));
            break;
          case Fill::kFanIn:
            chunk = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(row_elems)), shape, gen,
                               at::TensorOptions().dtype(at::kFloat));
            break;
          case Fill::kZeros:
            chunk = at::zeros(shape, at::kFloat);
            break;
          case Fill::kOnes:
            chunk = at::ones(shape, at::kFloat);
            break;
          case Fill::kSmall:
            chunk = at::full(shape, 0.02, at::kFloat);
            break;
          case Fill::kLogitScale:  // transformers' logit_scale_init_value
            chunk = at::full(shape, 2.6592, at::kFloat);
            break;
        }
        chunk = chunk.to(dtype).contiguous();
        LMEYE_RETURN_IF_ERROR(file.Write(chunk.data_ptr(), chunk.numel() * item));
      }
    }
    return absl::OkStatus();
  }));
  return file.Close();
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  FileWriter file;
  LMEYE_RETURN_IF_ERROR(file.Open(path));
  LMEYE_RETURN_IF_ERROR(file.Write(text.data(), text.size()));
  return file.Close();
}

absl::Status WriteJson(const std::string& path, const json& value) {
  return WriteText(path, value.dump(2) + "\n");
}

// The LLM weights in `dir`: model.safetensors, or Hugging Face shards + index above
// `max_shard_bytes`. Returns the number of files.
absl::StatusOr<int> WriteLlmWeights(const std::string& dir, const std::vector<TensorSpec>& specs,
                                    at::ScalarType dtype, uint64_t seed, int64_t max_shard_bytes) {
  const int64_t item = at::elementSize(dtype);
  std::vector<std::vector<TensorSpec>> shards(1);
  int64_t shard_bytes = 0, total = 0;
  for (const TensorSpec& s : specs) {
    const int64_t n = s.numel() * item;
    if (!shards.back().empty() && shard_bytes + n > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(s);
    shard_bytes += n;
    total += n;
  }
  if (shards.size() == 1) {
    LMEYE_RETURN_IF_ERROR(WriteRandomSafetensors(dir + "/model.safetensors", specs, dtype, seed));
    return 1;
  }
  json weight_map = json::object();
  const int n = static_cast<int>(shards.size());
  for (int i = 0; i < n; ++i) {
    const std::string name = absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, n);
    LMEYE_RETURN_IF_ERROR(WriteRandomSafetensors(dir + "/" + name, shards[i], dtype, seed));
    for (const TensorSpec& s : shards[i]) weight_map[s.name] = name;
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  LMEYE_RETURN_IF_ERROR(WriteJson(dir + "/model.safetensors.index.json", index));
  return n;
}

// ---------------------------------------------------------------------------------------------
// Output directory handling.

bool IsNonEmptyDir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && !fs::is_empty(path, ec);
}

absl::Status CheckOutDir(const std::string& out, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--out ", out, " exists and is not a directory"));
  }
  if (!IsNonEmptyDir(out)) return absl::OkStatus();
  if (!force) {
    return absl::FailedPreconditionError(
        absl::StrCat("--out ", out, " is not empty (pass --force to replace a model directory)"));
  }
  // --force deletes: only what this tool writes, never an arbitrary folder given by mistake.
  if (!fs::exists(out + "/" + ModelDir::kAdapterConfigName, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--out ", out,
                     " is not empty and is not an LMEye model directory (no adapter.json); "
                     "refusing to replace it even with --force"));
  }
  return absl::OkStatus();
}

std::string StripSlashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

absl::StatusOr<std::string> MakeTempDir(const std::string& pattern_prefix) {
  std::string pattern = pattern_prefix + "XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create ", pattern, ": ", ErrnoText()));
  }
  return std::string(buf.data());
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Moves the finished staging directory to `out`, replacing an empty or (force) old model dir.
absl::Status Publish(const std::string& staging, const std::string& out, bool force) {
  LMEYE_RETURN_IF_ERROR(CheckOutDir(out, force));  // again: it may have changed meanwhile
  std::error_code ec;
  std::string trash;
  if (fs::exists(out, ec)) {
    LMEYE_ASSIGN_OR_RETURN(trash, MakeTempDir(out + ".old-"));
    // rename() over an empty directory replaces it.
    if (::rename(out.c_str(), trash.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot move ", out, " aside: ", ErrnoText()));
    }
  }
  if (::rename(staging.c_str(), out.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", staging, " to ", out, ": ", ErrnoText()));
  }
  SyncDir(fs::path(out).parent_path().empty() ? "." : fs::path(out).parent_path().string());
  if (!trash.empty()) fs::remove_all(trash, ec);
  return absl::OkStatus();
}

int64_t DirBytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) total += static_cast<int64_t>(e.file_size());
  }
  return total;
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
  std::error_code ec;
  const fs::path parent = fs::path(out).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  // Staging next to `out` (same file system, so the final rename is atomic).
  LMEYE_ASSIGN_OR_RETURN(const std::string staging, MakeTempDir(out + ".partial-"));
  absl::Status written = WriteAll(o, lp, cp, report.dtype, staging, report);
  if (written.ok()) {
    ::chmod(staging.c_str(), 0755);  // mkdtemp's 0700 is not what a model directory should be
    SyncDir(staging);
    report.bytes_written = DirBytes(staging);
    written = Publish(staging, out, o.force);
  }
  if (!written.ok()) {
    fs::remove_all(staging, ec);
    return written;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lmeye
