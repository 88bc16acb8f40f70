#include "client/client_options.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/exit_codes.h"
#include "model/common/flags.h"

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

// A row of the table and the commands that take it.
struct ClientFlag {
  Flag flag;
  unsigned commands;
};

// model/eval's task names (checked here so a typo is a usage error before any file is read).
bool IsEvalTask(const std::string& name) {
  return name == "vqa" || name == "long" || name == "describe" || name == "choice";
}

// A switch that sets an optional flag to `value`: --progress, --no-progress.
Flag SetTo(std::string name, std::optional<bool>* target, bool value, std::string help) {
  return CustomFlag(std::move(name), FlagKind::kBool, "", std::move(help),
                    [target, value](const std::string&) {
                      *target = value;
                      return absl::OkStatus();
                    });
}

// One table for every command; `o` is what the rows write, `concurrency_given` records that
// --concurrency was given (eval's default differs from load's).
std::vector<ClientFlag> ClientFlags(ClientOptions* o, bool* concurrency_given) {
  ConnectionFlags& c = o->connection;
  GenerationFlags& g = o->generation;
  return {
      // Connection.
      {StringFlag("server", &c.server, "HOST:PORT", "server address"), kAll},
      {StringFlag("token", &c.token, "T", "bearer token, sent as `authorization: Bearer T`"), kAll},
      {StringFlag("token-file", &c.token_file, "FILE",
                  "read the token from the first line of FILE"),
       kAll},
      {BoolFlag("tls", &c.tls, "use TLS (with the system's roots unless --ca)"), kAll},
      {StringFlag("ca", &c.ca_file, "FILE", "PEM roots to verify the server with (implies --tls)"),
       kAll},
      {StringFlag("cert", &c.cert_file, "FILE",
                  "PEM client certificate for mTLS (with --key; implies --tls)"),
       kAll},
      {StringFlag("key", &c.key_file, "FILE", "PEM private key of --cert"), kAll},
      {DoubleFlag("timeout", &c.timeout_seconds, "SECONDS", "deadline of each call; 0: none",
                  kNonNegative),
       kAll},
      // Generation parameters: unset ones take the server's defaults.
      {IntFlag("max-new-tokens", &g.max_new_tokens, "N", "tokens to generate at most", kPositive),
       kGenerating},
      {DoubleFlag("temperature", &g.temperature, "T", "0: greedy; > 0: sampling"), kGenerating},
      {DoubleFlag("top-p", &g.top_p, "P", "nucleus sampling, in (0, 1]"), kGenerating},
      {IntFlag("top-k", &g.top_k, "K", "keep the K most likely tokens; 0: off"), kGenerating},
      {DoubleFlag("repetition-penalty", &g.repetition_penalty, "R", "> 0; 1: off"), kGenerating},
      {IntFlag("seed", &g.seed, "S", "sampling seed (same seed, same output)"), kGenerating},
      {StringsFlag("stop", &g.stop, "TEXT", "stop string (repeatable)"), kGenerating},
      {IntFlag("num-beams", &g.num_beams, "N", "beam search with N beams (Describe defaults to 5)",
               kPositive),
       kGenerating},
      {DoubleFlag("length-penalty", &g.length_penalty, "L", "beam search length penalty"),
       kGenerating},
      {BoolFlag("ignore-eos", &g.ignore_eos, "generate past EOS (benchmarks)"), kGenerating},
      {BoolFlag("no-interaction", &g.no_interaction, "IPN*: static visual prefix, no interaction"),
       kGenerating},
      // Output.
      {BoolFlag("json", &o->json, "print JSON"), kDescribe | kVqa | kInfo | kLoad | kEval},
      {BoolFlag("stats", &o->stats, "print usage and timings to stderr"), kChat | kDescribe | kVqa},
      // Per command.
      {StringFlag("image", &o->image, "FILE", "image file (JPEG, PNG, WebP, BMP)"),
       kChat | kDescribe | kVqa},
      {StringFlag("message", &o->message, "TEXT",
                  "one non-interactive turn instead of reading stdin"),
       kChat},
      {BoolFlag("stream", &o->stream, "stream the description (DescribeStream)"), kDescribe},
      {StringFlag("question", &o->question, "Q", "the question"), kVqa},
      {BoolFlag("long", &o->long_answer, "long-answer style"), kVqa},
      {CustomFlag("choices", FlagKind::kString, "A,B,C", "multiple choice: comma-separated choices",
                  [o](const std::string& v) {
                    for (absl::string_view choice : absl::StrSplit(v, ',')) {
                      o->choices.emplace_back(choice);
                    }
                    return absl::OkStatus();
                  }),
       kVqa},
      {StringsFlag("choice", &o->choices, "TEXT",
                   "one choice (repeatable; for choices containing commas)"),
       kVqa},
      {CustomFlag(
           "concurrency", FlagKind::kInt, "N",
           "load: concurrent clients, each with its own connection (default 1); eval: requests "
           "in flight (default 8)",
           [o, concurrency_given](const std::string& v) {
             *concurrency_given = true;
             return absl::SimpleAtoi(v, &o->concurrency) ? absl::OkStatus()
                                                         : FlagValueError("concurrency", v, "N");
           },
           kPositive),
       kLoad | kEval},
      {IntFlag("requests", &o->requests, "M", "total requests (default 100 unless --duration)",
               kPositive),
       kLoad},
      {DoubleFlag("duration", &o->duration_seconds, "SECONDS",
                  "run for this long instead of --requests", kPositive),
       kLoad},
      {IntFlag("warmup", &o->warmup, "N", "requests sent first, not counted in the report",
               kNonNegative),
       kLoad},
      {StringsFlag("images", &o->images, "PATH",
                   "load: image file or directory of images (repeatable); eval: the directory "
                   "image paths are relative to (default: the data file's)"),
       kLoad | kEval},
      {StringFlag("questions", &o->questions_file, "FILE",
                  "questions, one per line (default: a built-in list)"),
       kLoad},
      {CustomFlag("rpc", FlagKind::kString, "chat|describe", "what each request calls",
                  [o](const std::string& v) {
                    if (v != "chat" && v != "describe") {
                      return FlagValueError("rpc", v, "chat or describe");
                    }
                    o->rpc = v;
                    return absl::OkStatus();
                  })
           .Default(o->rpc),
       kLoad},
      {IntFlag("side-describe-beams", &o->side_describe_beams, "N",
               "one more client sends DescribeStream with N beams back to back while the others "
               "run (reported apart; its last call is cancelled); 0: none",
               kNonNegative),
       kLoad},
      // eval.
      {CustomFlag("task", FlagKind::kString, "vqa|long|describe|choice",
                  "what the dataset is scored as (required)",
                  [o](const std::string& v) {
                    if (!IsEvalTask(v)) {
                      return FlagValueError("task", v, "vqa, long, describe or choice");
                    }
                    o->eval.task = v;
                    return absl::OkStatus();
                  }),
       kEval},
      {StringFlag("data", &o->eval.data, "FILE",
                  "the dataset: generic JSONL, the LMEye long-answer file, or VQAv2's questions "
                  "JSON"),
       kEval},
      {StringFlag("annotations", &o->eval.annotations, "FILE",
                  "VQAv2 / OK-VQA annotations JSON (--data: the questions)"),
       kEval},
      {StringFlag("image-pattern", &o->eval.image_pattern, "PATTERN",
                  "image path of items without one, {image_id} or {image_id:012} replaced"),
       kEval},
      {StringFlag("predictions", &o->eval.predictions, "FILE",
                  "where predictions go (default <task>_predictions.json)"),
       kEval},
      {StringFlag("report", &o->eval.report, "FILE",
                  "where the JSON report goes (default <task>_report.json)"),
       kEval},
      {StringFlag("score-only", &o->eval.score_only, "PREDICTIONS",
                  "score saved predictions; no server is called"),
       kEval},
      {StringFlag("meteor", &o->eval.meteor_dir, "DIR",
                  "Meteor's data (default: the source tree's model/eval/meteor)"),
       kEval},
      {BoolFlag("no-meteor", &o->eval.no_meteor, "skip METEOR"), kEval},
      {IntFlag("limit", &o->eval.limit, "N", "only the first N items of the dataset", kPositive),
       kEval},
      {SetTo("progress", &o->eval.progress, true,
             "progress bar even when stderr is not a terminal"),
       kEval},
      {SetTo("no-progress", &o->eval.progress, false, "no progress output"), kEval},
  };
}

constexpr std::pair<unsigned, const char*> kCommandNames[] = {
    {kChat, "chat"}, {kDescribe, "describe"}, {kVqa, "vqa"},
    {kInfo, "info"}, {kLoad, "load"},         {kEval, "eval"}};

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
  if (command == 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", args[0], "\""));
  }
  // One table for all commands, so that a flag of another command is named as such rather than
  // unknown.
  bool concurrency_given = false;
  std::vector<Flag> flags;
  for (ClientFlag& row : ClientFlags(&options, &concurrency_given)) {
    if ((row.commands & command) == 0) {
      row.flag.set = [name = row.flag.name, of = options.command](const std::string&) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": not a flag of ", of));
      };
    }
    flags.push_back(std::move(row.flag));
  }
  absl::StatusOr<ParsedFlags> parsed =
      ParseFlags(flags, std::vector<std::string>(args.begin() + 1, args.end()));
  if (!parsed.ok()) return parsed.status();
  if (parsed->help) {
    options.help = true;
    return options;
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
  ClientOptions defaults;
  bool unused = false;
  std::vector<Flag> flags;
  for (ClientFlag& row : ClientFlags(&defaults, &unused)) {
    std::string commands;
    if (row.commands == kAll) {
      commands = "all";
    } else {
      for (const auto& [bit, name] : kCommandNames) {
        if (row.commands & bit) absl::StrAppend(&commands, commands.empty() ? "" : ",", name);
      }
    }
    // The commands after the default: "server address (default localhost:50051) [all]".
    Flag& flag = row.flag;
    if (!flag.default_text.empty()) {
      absl::StrAppend(&flag.help, " (default ", flag.default_text, ")");
    }
    flag.default_text.clear();
    absl::StrAppend(&flag.help, " [", commands, "]");
    flags.push_back(std::move(flag));
  }
  absl::StrAppend(&out, FlagHelp(flags));
  absl::StrAppend(&out, ExitCodesHelp());
  return out;
}

}  // namespace lmeye::client
