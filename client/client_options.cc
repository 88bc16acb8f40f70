#include "client/client_options.h"

#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/exit_codes.h"

namespace lmeye::client {
namespace {

// eval keeps this many requests in flight unless --concurrency says otherwise: enough to fill the
// server's batches without a queue of its own.
constexpr int kDefaultEvalConcurrency = 8;

// Which commands take a flag.
enum : unsigned {
  kChat = 1,
  kDescribe = 2,
  kVqa = 4,
  kInfo = 8,
  kLoad = 16,
  kEval = 32,
  kAll = kChat | kDescribe | kVqa | kInfo | kLoad | kEval,
  kGenerating = kChat | kDescribe | kVqa | kLoad | kEval,
};

using Setter = absl::Status (*)(ClientOptions&, const std::string& flag, const std::string& value);

struct FlagSpec {
  const char* name;
  const char* value_name;  // nullptr: a boolean flag, no value
  unsigned commands;
  const char* help;
  Setter set;
};

absl::Status Bad(const std::string& flag, const std::string& value, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": expected ", expected, ", got \"", value, "\""));
}

template <typename T>
absl::Status ParseInteger(const std::string& flag, const std::string& value, T min, T* out) {
  T v;
  if (!absl::SimpleAtoi(value, &v) || v < min) {
    return Bad(flag, value, min == 0 ? "a non-negative integer" : "a positive integer");
  }
  *out = v;
  return absl::OkStatus();
}

template <typename T>
absl::Status ParseReal(const std::string& flag, const std::string& value, T* out) {
  double v;
  if (!absl::SimpleAtod(value, &v) || !std::isfinite(v)) return Bad(flag, value, "a number");
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

// model/eval's task names (checked here so a typo is a usage error before any file is read).
bool IsEvalTask(const std::string& name) {
  return name == "vqa" || name == "long" || name == "describe" || name == "choice";
}

#define LMEYE_SETTER(body) \
  [](ClientOptions& o, const std::string& flag, const std::string& v) -> absl::Status { body }

const std::vector<FlagSpec>& Flags() {
  static const auto* flags = new std::vector<FlagSpec>{
      // Connection.
      {"server", "HOST:PORT", kAll, "server address (default localhost:50051)",
       LMEYE_SETTER(o.connection.server = v; (void)flag; return absl::OkStatus();)},
      {"token", "T", kAll, "bearer token, sent as `authorization: Bearer T`",
       LMEYE_SETTER(o.connection.token = v; (void)flag; return absl::OkStatus();)},
      {"token-file", "FILE", kAll, "read the token from the first line of FILE",
       LMEYE_SETTER(o.connection.token_file = v; (void)flag; return absl::OkStatus();)},
      {"tls", nullptr, kAll, "use TLS (with the system's roots unless --ca)",
       LMEYE_SETTER(o.connection.tls = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"ca", "FILE", kAll, "PEM roots to verify the server with (implies --tls)",
       LMEYE_SETTER(o.connection.ca_file = v; (void)flag; return absl::OkStatus();)},
      {"cert", "FILE", kAll, "PEM client certificate for mTLS (with --key; implies --tls)",
       LMEYE_SETTER(o.connection.cert_file = v; (void)flag; return absl::OkStatus();)},
      {"key", "FILE", kAll, "PEM private key of --cert",
       LMEYE_SETTER(o.connection.key_file = v; (void)flag; return absl::OkStatus();)},
      {"timeout", "SECONDS", kAll, "deadline of each call (default: none)",
       LMEYE_SETTER(auto s = ParseReal(flag, v, &o.connection.timeout_seconds);
                    if (s.ok() && o.connection.timeout_seconds < 0) {
                      return Bad(flag, v, "a non-negative number");
                    } return s;)},
      // Generation parameters.
      {"max-new-tokens", "N", kGenerating, "tokens to generate at most",
       LMEYE_SETTER(uint32_t n = 0; auto s = ParseInteger(flag, v, 1u, &n);
                    if (s.ok()) o.generation.max_new_tokens = n; return s;)},
      {"temperature", "T", kGenerating, "0: greedy; > 0: sampling",
       LMEYE_SETTER(float t = 0; auto s = ParseReal(flag, v, &t);
                    if (s.ok()) o.generation.temperature = t; return s;)},
      {"top-p", "P", kGenerating, "nucleus sampling, in (0, 1]",
       LMEYE_SETTER(float p = 0; auto s = ParseReal(flag, v, &p);
                    if (s.ok()) o.generation.top_p = p; return s;)},
      {"top-k", "K", kGenerating, "keep the K most likely tokens; 0: off",
       LMEYE_SETTER(uint32_t k = 0; auto s = ParseInteger(flag, v, 0u, &k);
                    if (s.ok()) o.generation.top_k = k; return s;)},
      {"repetition-penalty", "R", kGenerating, "> 0; 1: off",
       LMEYE_SETTER(float r = 0; auto s = ParseReal(flag, v, &r);
                    if (s.ok()) o.generation.repetition_penalty = r; return s;)},
      {"seed", "S", kGenerating, "sampling seed (same seed, same output)",
       LMEYE_SETTER(uint64_t n = 0; auto s = ParseInteger(flag, v, uint64_t{0}, &n);
                    if (s.ok()) o.generation.seed = n; return s;)},
      {"stop", "TEXT", kGenerating, "stop string (repeatable)",
       LMEYE_SETTER(o.generation.stop.push_back(v); (void)flag; return absl::OkStatus();)},
      {"num-beams", "N", kGenerating, "beam search with N beams (Describe defaults to 5)",
       LMEYE_SETTER(uint32_t n = 0; auto s = ParseInteger(flag, v, 1u, &n);
                    if (s.ok()) o.generation.num_beams = n; return s;)},
      {"length-penalty", "L", kGenerating, "beam search length penalty",
       LMEYE_SETTER(float l = 0; auto s = ParseReal(flag, v, &l);
                    if (s.ok()) o.generation.length_penalty = l; return s;)},
      {"ignore-eos", nullptr, kGenerating, "generate past EOS (benchmarks)",
       LMEYE_SETTER(o.generation.ignore_eos = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"no-interaction", nullptr, kGenerating, "IPN*: static visual prefix, no interaction",
       LMEYE_SETTER(o.generation.no_interaction = true; (void)flag; (void)v;
                    return absl::OkStatus();)},
      // Output.
      {"json", nullptr, kDescribe | kVqa | kInfo | kLoad | kEval, "print JSON",
       LMEYE_SETTER(o.json = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"stats", nullptr, kChat | kDescribe | kVqa, "print usage and timings to stderr",
       LMEYE_SETTER(o.stats = true; (void)flag; (void)v; return absl::OkStatus();)},
      // Per command.
      {"image", "FILE", kChat | kDescribe | kVqa, "image file (JPEG, PNG, WebP, BMP)",
       LMEYE_SETTER(o.image = v; (void)flag; return absl::OkStatus();)},
      {"message", "TEXT", kChat, "one non-interactive turn instead of reading stdin",
       LMEYE_SETTER(o.message = v; (void)flag; return absl::OkStatus();)},
      {"stream", nullptr, kDescribe, "stream the description (DescribeStream)",
       LMEYE_SETTER(o.stream = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"question", "Q", kVqa, "the question",
       LMEYE_SETTER(o.question = v; (void)flag; return absl::OkStatus();)},
      {"long", nullptr, kVqa, "long-answer style",
       LMEYE_SETTER(o.long_answer = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"choices", "A,B,C", kVqa, "multiple choice: comma-separated choices",
       LMEYE_SETTER(for (absl::string_view c
                         : absl::StrSplit(v, ',')) o.choices.emplace_back(c.data(), c.size());
                    (void)flag; return absl::OkStatus();)},
      {"choice", "TEXT", kVqa, "one choice (repeatable; for choices containing commas)",
       LMEYE_SETTER(o.choices.push_back(v); (void)flag; return absl::OkStatus();)},
      {"concurrency", "N", kLoad | kEval,
       "load: concurrent clients, each with its own connection (default 1); eval: requests in "
       "flight (default 8)",
       LMEYE_SETTER(return ParseInteger(flag, v, 1, &o.concurrency);)},
      {"requests", "M", kLoad, "total requests (default 100 unless --duration)",
       LMEYE_SETTER(int n = 0; auto s = ParseInteger(flag, v, 1, &n); if (s.ok()) o.requests = n;
                    return s;)},
      {"duration", "SECONDS", kLoad, "run for this long instead of --requests",
       LMEYE_SETTER(double d = 0; auto s = ParseReal(flag, v, &d);
                    if (s.ok() && d <= 0) return Bad(flag, v, "a positive number");
                    if (s.ok()) o.duration_seconds = d; return s;)},
      {"warmup", "N", kLoad, "requests sent first, not counted in the report (default 0)",
       LMEYE_SETTER(return ParseInteger(flag, v, 0, &o.warmup);)},
      {"images", "PATH", kLoad | kEval,
       "load: image file or directory of images (repeatable); eval: the directory image paths "
       "are relative to (default: the data file's)",
       LMEYE_SETTER(o.images.push_back(v); (void)flag; return absl::OkStatus();)},
      {"questions", "FILE", kLoad, "questions, one per line (default: a built-in list)",
       LMEYE_SETTER(o.questions_file = v; (void)flag; return absl::OkStatus();)},
      {"rpc", "chat|describe", kLoad, "what each request calls (default chat)",
       LMEYE_SETTER(if (v != "chat" && v != "describe") return Bad(flag, v, "chat or describe");
                    o.rpc = v; return absl::OkStatus();)},
      // eval.
      {"task", "vqa|long|describe|choice", kEval, "what the dataset is scored as (required)",
       LMEYE_SETTER(if (!IsEvalTask(v)) return Bad(flag, v, "vqa, long, describe or choice");
                    o.eval.task = v; return absl::OkStatus();)},
      {"data", "FILE", kEval,
       "the dataset: generic JSONL, the LMEye long-answer file, or VQAv2's questions JSON",
       LMEYE_SETTER(o.eval.data = v; (void)flag; return absl::OkStatus();)},
      {"annotations", "FILE", kEval, "VQAv2 / OK-VQA annotations JSON (--data: the questions)",
       LMEYE_SETTER(o.eval.annotations = v; (void)flag; return absl::OkStatus();)},
      {"image-pattern", "PATTERN", kEval,
       "image path of items without one, {image_id} or {image_id:012} replaced",
       LMEYE_SETTER(o.eval.image_pattern = v; (void)flag; return absl::OkStatus();)},
      {"predictions", "FILE", kEval, "where predictions go (default <task>_predictions.json)",
       LMEYE_SETTER(o.eval.predictions = v; (void)flag; return absl::OkStatus();)},
      {"report", "FILE", kEval, "where the JSON report goes (default <task>_report.json)",
       LMEYE_SETTER(o.eval.report = v; (void)flag; return absl::OkStatus();)},
      {"score-only", "PREDICTIONS", kEval, "score saved predictions; no server is called",
       LMEYE_SETTER(o.eval.score_only = v; (void)flag; return absl::OkStatus();)},
      {"meteor", "DIR", kEval, "Meteor's data (default: the source tree's model/eval/meteor)",
       LMEYE_SETTER(o.eval.meteor_dir = v; (void)flag; return absl::OkStatus();)},
      {"no-meteor", nullptr, kEval, "skip METEOR",
       LMEYE_SETTER(o.eval.no_meteor = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"limit", "N", kEval, "only the first N items of the dataset",
       LMEYE_SETTER(int n = 0; auto s = ParseInteger(flag, v, 1, &n); if (s.ok()) o.eval.limit = n;
                    return s;)},
      {"progress", nullptr, kEval, "progress bar even when stderr is not a terminal",
       LMEYE_SETTER(o.eval.progress = true; (void)flag; (void)v; return absl::OkStatus();)},
      {"no-progress", nullptr, kEval, "no progress output",
       LMEYE_SETTER(o.eval.progress = false; (void)flag; (void)v; return absl::OkStatus();)},
  };
  return *flags;
}

#undef LMEYE_SETTER

unsigned CommandBit(const std::string& command) {
  if (command == "chat") return kChat;
  if (command == "describe") return kDescribe;
  if (command == "vqa") return kVqa;
  if (command == "info") return kInfo;
  if (command == "load") return kLoad;
  if (command == "eval") return kEval;
  return 0;
}

absl::Status CheckRequired(const ClientOptions& o) {
  const ConnectionFlags& c = o.connection;
  if (!c.token.empty() && !c.token_file.empty()) {
    return absl::InvalidArgumentError("--token and --token-file: give one");
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    return absl::InvalidArgumentError("--cert and --key: mTLS needs both");
  }
  if ((o.command == "describe" || o.command == "vqa") && o.image.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(o.command, ": --image is required"));
  }
  if (o.command == "vqa" && o.question.empty()) {
    return absl::InvalidArgumentError("vqa: --question is required");
  }
  if (o.command == "vqa" && o.long_answer && !o.choices.empty()) {
    return absl::InvalidArgumentError("vqa: --long and --choices: give one");
  }
  if (o.command == "load" && o.requests && o.duration_seconds) {
    return absl::InvalidArgumentError("load: --requests and --duration: give one");
  }
  if (o.command == "eval") {
    if (o.eval.task.empty()) return absl::InvalidArgumentError("eval: --task is required");
    if (o.eval.data.empty()) return absl::InvalidArgumentError("eval: --data is required");
    if (o.images.size() > 1) {
      return absl::InvalidArgumentError("eval: --images takes one directory");
    }
    if (!o.eval.annotations.empty() && o.eval.task != "vqa") {
      return absl::InvalidArgumentError("eval: --annotations (VQAv2 / OK-VQA) needs --task vqa");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClientOptions> ParseClientArgs(const std::vector<std::string>& args) {
  ClientOptions options;
  if (args.empty()) return absl::InvalidArgumentError("missing command");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    options.help = true;
    return options;
  }
  options.command = args[0];
  const unsigned command = CommandBit(options.command);
  bool concurrency_given = false;
  if (command == 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", args[0], "\""));
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return options;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& f : Flags()) {
      if (name == f.name) spec = &f;
    }
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if ((spec->commands & command) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": not a flag of ", options.command));
    }
    if (spec->value_name == nullptr) {
      if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      value = "";
    } else if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
      }
      value = args[++i];
    }
    if (absl::Status s = spec->set(options, name, *value); !s.ok()) return s;
    if (name == "concurrency") concurrency_given = true;
  }
  ConnectionFlags& c = options.connection;
  if (!c.ca_file.empty() || !c.cert_file.empty() || !c.key_file.empty()) c.tls = true;
  if (options.command == "load" && !options.requests && !options.duration_seconds) {
    options.requests = 100;
  }
  if (options.command == "eval" && !concurrency_given) {
    options.concurrency = kDefaultEvalConcurrency;
  }
  if (absl::Status s = CheckRequired(options); !s.ok()) return s;
  return options;
}

std::string ClientUsage() {
  std::string out =
      "usage: lmeye_client <command> [flags]\n"
      "commands:\n"
      "  chat      interactive chat: one human turn per stdin line, tokens streamed as they\n"
      "            come; the history is kept (`/reset` clears it). --message TEXT: one turn.\n"
      "  describe  a detailed description of --image (beam search by default)\n"
      "  vqa       answer --question about --image (--long, or --choices for multiple choice)\n"
      "  info      the served model, limits and defaults\n"
      "  load      load generator: --concurrency clients over --images and --questions;\n"
      "            throughput and latency percentiles\n"
      "  eval      run a dataset (--task, --data) against the server with --concurrency\n"
      "            requests in flight; write predictions and a report of the paper's metrics.\n"
      "            --score-only PREDICTIONS: score saved predictions, no server\n"
      "flags (commands that take them in brackets):\n";
  const std::pair<unsigned, const char*> names[] = {{kChat, "chat"}, {kDescribe, "describe"},
                                                    {kVqa, "vqa"},   {kInfo, "info"},
                                                    {kLoad, "load"}, {kEval, "eval"}};
  for (const FlagSpec& f : Flags()) {
    std::string left = absl::StrCat("  --", f.name);
    if (f.value_name != nullptr) absl::StrAppend(&left, " ", f.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    std::string commands;
    if (f.commands == kAll) {
      commands = "all";
    } else {
      for (const auto& [bit, name] : names) {
        if (f.commands & bit) absl::StrAppend(&commands, commands.empty() ? "" : ",", name);
      }
    }
    absl::StrAppend(&out, left, " ", f.help, " [", commands, "]\n");
  }
  absl::StrAppend(&out, ExitCodesHelp());
  return out;
}

}  // namespace lmeye::client
