#include "model/train/train_config.h"

#include <functional>

#include <yaml-cpp/yaml.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/device.h"

namespace lmeye {
namespace {

using Setter = std::function<absl::Status(const std::string& value, const std::string& base_dir,
                                          TrainConfig* config)>;

absl::Status TypeError(const std::string& key, const char* expected, const std::string& value) {
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": expected ", expected, ", got \"", value, "\""));
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty() || path[0] == '/') return path;
  return absl::StrCat(base_dir, "/", path);
}

Setter Path(std::string TrainConfig::*field) {
  return [field](const std::string& v, const std::string& base, TrainConfig* c) {
    c->*field = Resolve(base, v);
    return absl::OkStatus();
  };
}

template <typename Int>
Setter Integer(const char* key, Int TrainConfig::*field) {
  return [key, field](const std::string& v, const std::string&, TrainConfig* c) {
    int64_t x = 0;
    if (!absl::SimpleAtoi(v, &x)) return TypeError(key, "an integer", v);
    c->*field = static_cast<Int>(x);
    return absl::OkStatus();
  };
}

Setter Unsigned(const char* key, uint64_t TrainConfig::*field) {
  return [key, field](const std::string& v, const std::string&, TrainConfig* c) {
    uint64_t x = 0;
    if (!absl::SimpleAtoi(v, &x)) return TypeError(key, "a non-negative integer", v);
    c->*field = x;
    return absl::OkStatus();
  };
}

Setter Number(const char* key, double TrainConfig::*field) {
  return [key, field](const std::string& v, const std::string&, TrainConfig* c) {
    double x = 0;
    if (!absl::SimpleAtod(v, &x)) return TypeError(key, "a number", v);
    c->*field = x;
    return absl::OkStatus();
  };
}

Setter Bool(const char* key, bool TrainConfig::*field) {
  return [key, field](const std::string& v, const std::string&, TrainConfig* c) {
    bool x = false;
    if (!absl::SimpleAtob(v, &x)) return TypeError(key, "true or false", v);
    c->*field = x;
    return absl::OkStatus();
  };
}

// Key -> setter, in the struct's order (std::vector keeps the order for TrainConfigKeys()).
const std::vector<std::pair<std::string, Setter>>& Setters() {
  static const auto* setters = new std::vector<std::pair<std::string, Setter>>{
      {"model", Path(&TrainConfig::model)},
      {"stage",
       [](const std::string& v, const std::string&, TrainConfig* c) {
         absl::StatusOr<TrainStage> stage = ParseTrainStage(v);
         if (!stage.ok()) return TypeError("stage", "align, instruct, clip or lm", v);
         c->stage = *stage;
         return absl::OkStatus();
       }},
      {"data", Path(&TrainConfig::data)},
      {"output_dir", Path(&TrainConfig::output_dir)},
      {"adapter", Path(&TrainConfig::adapter)},
      {"reinit", Bool("reinit", &TrainConfig::reinit)},
      {"save_dtype",
       [](const std::string& v, const std::string&, TrainConfig* c) {
         c->save_dtype = v;
         return absl::OkStatus();
       }},
      {"batch_size", Integer("batch_size", &TrainConfig::batch_size)},
      {"grad_accum", Integer("grad_accum", &TrainConfig::grad_accum)},
      {"max_steps", Integer("max_steps", &TrainConfig::max_steps)},
      {"epochs", Number("epochs", &TrainConfig::epochs)},
      {"lr", Number("lr", &TrainConfig::lr)},
      {"weight_decay", Number("weight_decay", &TrainConfig::weight_decay)},
      {"beta1", Number("beta1", &TrainConfig::beta1)},
      {"beta2", Number("beta2", &TrainConfig::beta2)},
      {"adam_eps", Number("adam_eps", &TrainConfig::adam_eps)},
      {"warmup_steps", Integer("warmup_steps", &TrainConfig::warmup_steps)},
      {"min_lr_ratio", Number("min_lr_ratio", &TrainConfig::min_lr_ratio)},
      {"max_grad_norm", Number("max_grad_norm", &TrainConfig::max_grad_norm)},
      {"seed", Unsigned("seed", &TrainConfig::seed)},
      {"max_tokens", Integer("max_tokens", &TrainConfig::max_tokens)},
      {"max_skip_fraction", Number("max_skip_fraction", &TrainConfig::max_skip_fraction)},
      {"group_by_length", Bool("group_by_length", &TrainConfig::group_by_length)},
      {"label_weight", Number("label_weight", &TrainConfig::label_weight)},
      {"eval_data", Path(&TrainConfig::eval_data)},
      {"eval_every", Integer("eval_every", &TrainConfig::eval_every)},
      {"qa_max_answer_tokens", Integer("qa_max_answer_tokens", &TrainConfig::qa_max_answer_tokens)},
      {"feature_cache", Path(&TrainConfig::feature_cache)},
      {"checkpoint_every", Integer("checkpoint_every", &TrainConfig::checkpoint_every)},
      {"log_every", Integer("log_every", &TrainConfig::log_every)},
      {"resume", Bool("resume", &TrainConfig::resume)},
      {"threads", Integer("threads", &TrainConfig::threads)},
      {"device",
       [](const std::string& v, const std::string&, TrainConfig* c) {
         c->device = v;
         return absl::OkStatus();
       }},
      {"autocast",
       [](const std::string& v, const std::string&, TrainConfig* c) {
         if (v != "off" && v != "bf16" && v != "fp16") return TypeError("autocast", "off, bf16 or fp16", v);
         c->autocast = v;
         return absl::OkStatus();
       }},
      {"dist_backend",
       [](const std::string& v, const std::string&, TrainConfig* c) {
         if (v != "auto" && v != "gloo" && v != "nccl") {
           return TypeError("dist_backend", "auto, gloo or nccl", v);
         }
         c->dist_backend = v;
         return absl::OkStatus();
       }},
  };
  return *setters;
}

absl::Status OutOfRange(const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", why));
}

}  // namespace

const char* TrainStageName(TrainStage stage) {
  switch (stage) {
    case TrainStage::kAlign:
      return "align";
    case TrainStage::kInstruct:
      return "instruct";
    case TrainStage::kClip:
      return "clip";
    case TrainStage::kLm:
      return "lm";
  }
  return "?";
}

absl::StatusOr<TrainStage> ParseTrainStage(const std::string& name) {
  for (TrainStage s :
       {TrainStage::kAlign, TrainStage::kInstruct, TrainStage::kClip, TrainStage::kLm}) {
    if (name == TrainStageName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown stage \"", name, "\" (align, instruct, clip or lm)"));
}

const std::vector<std::string>& TrainConfigKeys() {
  static const auto* keys = [] {
    auto* k = new std::vector<std::string>();
    for (const auto& [key, setter] : Setters()) k->push_back(key);
    return k;
  }();
  return *keys;
}

absl::Status SetTrainConfigValue(const std::string& key, const std::string& value,
                                 const std::string& base_dir, TrainConfig* config) {
  for (const auto& [name, setter] : Setters()) {
    if (name == key) return setter(value, base_dir, config);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown key \"", key, "\"; known keys: ", absl::StrJoin(TrainConfigKeys(), ", ")));
}

absl::Status LoadTrainConfigYaml(const std::string& path, TrainConfig* config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file: all defaults
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a mapping of keys"));
  }
  const size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  for (const auto& entry : root) {
    const int line = entry.first.Mark().line + 1;
    std::string key;
    try {
      key = entry.first.as<std::string>();
    } catch (const YAML::Exception&) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": a key must be text"));
    }
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": ", key, ": expected a single value"));
    }
    absl::Status s = SetTrainConfigValue(key, entry.second.Scalar(), base_dir, config);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status TrainConfig::Validate() const {
  if (model.empty()) return OutOfRange("model", "required (an LMEye model directory)");
  if (data.empty()) return OutOfRange("data", "required (a JSONL manifest)");
  if (output_dir.empty()) return OutOfRange("output_dir", "required");
  if (reinit && !IsIpnStage(stage)) {
    return OutOfRange("reinit", "only for the IPN stages (lmeye init-model writes fresh backbones)");
  }
  if (absl::StatusOr<at::ScalarType> d = ParseDtype(save_dtype); !d.ok()) {
    return OutOfRange("save_dtype", std::string(d.status().message()));
  }
  if (batch_size < 1) return OutOfRange("batch_size", "must be at least 1");
  if (stage == TrainStage::kClip && batch_size < 2) {
    return OutOfRange("batch_size", "must be at least 2 for clip (in-batch negatives)");
  }
  if (grad_accum < 1) return OutOfRange("grad_accum", "must be at least 1");
  if (max_steps < 0) return OutOfRange("max_steps", "must be >= 0");
  if (max_steps == 0 && !(epochs > 0)) {
    return OutOfRange("epochs", "must be > 0 when max_steps is 0");
  }
  if (!(lr > 0)) return OutOfRange("lr", "must be > 0");
  if (!(weight_decay >= 0)) return OutOfRange("weight_decay", "must be >= 0");
  if (!(beta1 >= 0 && beta1 < 1)) return OutOfRange("beta1", "must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) return OutOfRange("beta2", "must be in [0, 1)");
  if (!(adam_eps > 0)) return OutOfRange("adam_eps", "must be > 0");
  if (warmup_steps < 0) return OutOfRange("warmup_steps", "must be >= 0");
  if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1)) {
    return OutOfRange("min_lr_ratio", "must be in [0, 1]");
  }
  if (!(max_grad_norm >= 0)) return OutOfRange("max_grad_norm", "must be >= 0 (0: off)");
  if (max_tokens < 4) return OutOfRange("max_tokens", "must be at least 4");
  if (!(max_skip_fraction >= 0 && max_skip_fraction <= 1)) {
    return OutOfRange("max_skip_fraction", "must be in [0, 1]");
  }
  if (!(label_weight >= 0)) return OutOfRange("label_weight", "must be >= 0 (0: off)");
  if (eval_every < 0) return OutOfRange("eval_every", "must be >= 0");
  if (qa_max_answer_tokens < 0) return OutOfRange("qa_max_answer_tokens", "must be >= 0");
  if (eval_every > 0 && eval_data.empty()) {
    return OutOfRange("eval_every", "needs eval_data");
  }
  if (checkpoint_every < 0) return OutOfRange("checkpoint_every", "must be >= 0");
  if (log_every < 1) return OutOfRange("log_every", "must be at least 1");
  if (threads < 0) return OutOfRange("threads", "must be >= 0 (0: every core)");
  absl::StatusOr<at::Device> d = ParseDevice(device);
  if (!d.ok()) return OutOfRange("device", std::string(d.status().message()));
  if (autocast == "fp16" && !d->is_cuda()) {
    return OutOfRange("autocast", "fp16 needs a CUDA device (use bf16 on the CPU)");
  }
  if (dist_backend == "nccl" && !d->is_cuda()) {
    return OutOfRange("dist_backend", "nccl needs a CUDA device (use gloo on the CPU)");
  }
  return absl::OkStatus();
}

}  // namespace lmeye
