#include "model/tools/init_model_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/safetensors.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_modules.h"
#include "model/text/clip_text.h"
#include "model/tools/init_model.h"
#include "model/vision/clip_vision.h"

namespace lmeye::init_model_io {

namespace fs = std::filesystem;
using json = nlohmann::json;

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

// ---------------------------------------------------------------------------------------------
// Tensor specs: names and shapes from the modules, and how each is initialised.

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
absl::StatusOr<int64_t> WriteStaged(const std::string& out, bool force,
                                    const std::function<absl::Status(const std::string&)>& write) {
  std::error_code ec;
  const fs::path parent = fs::path(out).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  LMEYE_ASSIGN_OR_RETURN(const std::string staging, MakeTempDir(out + ".partial-"));
  absl::Status written = write(staging);
  int64_t bytes = 0;
  if (written.ok()) {
    ::chmod(staging.c_str(), 0755);  // mkdtemp's 0700 is not what a model directory should be
    SyncDir(staging);
    bytes = DirBytes(staging);
    written = Publish(staging, out, force);
  }
  if (!written.ok()) {
    fs::remove_all(staging, ec);
    return written;
  }
  return bytes;
}

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

}  // namespace lmeye::init_model_io
