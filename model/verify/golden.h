// Golden files of a model directory (`golden.json` + `golden.safetensors`, written by Hugging Face
// `transformers`; see tests/data/models/*/golden.json) and the interface that recomputes them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/io/safetensors.h"

namespace lmeye {

// A model directory's goldens. Read-only after Open.
class GoldenSet {
 public:
  // golden.json + golden.safetensors of `goldens_dir`, for the model in `model_dir` (default: the
  // same directory, as the fixtures ship; another one for a model made from the fixture, e.g.
  // by `lmeye import`).
  static absl::StatusOr<std::unique_ptr<GoldenSet>> Open(const std::string& goldens_dir,
                                                         const std::string& model_dir = "");

  const std::string& dir() const { return dir_; }              // where the goldens are
  const std::string& model_dir() const { return model_dir_; }  // the model they are for
  const nlohmann::json& spec() const { return spec_; }  // golden.json
  // "model_class" of golden.json ("OPTForCausalLM", ...), or "" (e.g. LMEye fixtures).
  std::string model_class() const;
  bool Contains(absl::string_view name) const { return tensors_->Contains(name); }
  // A golden tensor in its stored dtype.
  absl::StatusOr<at::Tensor> Get(absl::string_view name) const;
  // Names of the tensors golden.json marks as inputs (description starting "INPUT").
  bool IsInput(absl::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::string dir_;
  std::string model_dir_;
  nlohmann::json spec_;
  std::unique_ptr<SafetensorsFile> tensors_;
};

// One recomputed golden tensor.
struct GoldenCheck {
  std::string name;   // the golden tensor's name
  at::Tensor actual;  // our value; same shape as the golden
  // Optional bool tensor broadcastable to the golden's shape: false = not compared (padding
  // positions whose values are meaningless, as golden.json says).
  at::Tensor mask;
  bool exact = false;  // integer ids: must be equal, not close
};

// Recomputes the goldens of one kind of model directory (CLIP towers, causal LMs, LMEye).
class GoldenRecomputer {
 public:
  virtual ~GoldenRecomputer() = default;
  virtual absl::string_view name() const = 0;
  // True if this recomputer understands `golden` (usually from golden.json's model_class).
  virtual bool Handles(const GoldenSet& golden) const = 0;
  // Loads the model in `golden.dir()` (float32, on `device`) and recomputes every golden it
  // can. Checks may hold device tensors; the verifier compares on the host.
  virtual absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet& golden,
                                                             const at::Device& device) const = 0;
};

// Factories, one per model kind (each in its own file of model/verify/).
std::unique_ptr<GoldenRecomputer> MakeClipGoldenRecomputer();   // CLIP vision/text towers
std::unique_ptr<GoldenRecomputer> MakeLlmGoldenRecomputer();    // OPT, BLOOM, LLaMA
std::unique_ptr<GoldenRecomputer> MakeLmeyeGoldenRecomputer();  // LMEye model directories
std::unique_ptr<GoldenRecomputer> MakeLingcloudV0GoldenRecomputer();  // released v0 layout
std::unique_ptr<GoldenRecomputer> MakeLingcloudV01GoldenRecomputer();  // released v0.1 (BLIP-2)

}  // namespace lmeye
