// lmeye_client's command line, parsed into one typed struct before anything touches the network
// (so every usage error is exit code 2, found up front).
//
//   lmeye_client <command> [flags]
// Commands: chat, describe, vqa, info, load, eval. Flags are one table read by the project's flag
// parser (model/common/flags.h: `--flag VALUE` or `--flag=VALUE`, the same errors as the `lmeye`
// modes); each flag is accepted only by the commands it applies to (ClientUsage() lists them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lmeye::client {

// GenerationParams fields; unset ones take the server's defaults.
struct GenerationFlags {
  std::optional<uint32_t> max_new_tokens;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<uint32_t> top_k;
  std::optional<float> repetition_penalty;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::optional<uint32_t> num_beams;
  std::optional<float> length_penalty;
  bool ignore_eos = false;
  bool no_interaction = false;
};

// How to reach the server.
struct ConnectionFlags {
  std::string server = "localhost:50051";
  std::string token;  // --token, or the first line of --token-file
  std::string token_file;
  bool tls = false;       // implied by --ca, --cert, --key
  std::string ca_file;    // empty with --tls: the system's roots
  std::string cert_file;  // client certificate for mTLS (with key_file)
  std::string key_file;
  double timeout_seconds = 0;  // gRPC deadline per call; 0: none
};

// eval: a dataset run against the server (or saved predictions scored, --score-only).
struct EvalFlags {
  std::string task;  // --task: vqa | long | describe | choice (required)
  std::string data;  // --data: JSONL / LMEye file, or VQAv2's questions JSON with --annotations
  std::string annotations;  // VQAv2 / OK-VQA annotations JSON
  // Items without an image path: `{image_id}` (or `{image_id:012}`, zero-padded) replaced, e.g.
  // "val2014/COCO_val2014_{image_id:012}.jpg".
  std::string image_pattern;
  std::string predictions;  // output; default "<task>_predictions.json"
  std::string report;       // output; default "<task>_report.json"
  std::string score_only;   // saved predictions to score; no server is called
  std::string meteor_dir;   // Meteor's data; default: the source tree's model/eval/meteor
  bool no_meteor = false;
  std::optional<int> limit;      // only the first N items
  std::optional<bool> progress;  // progress bar; default: when stderr is a terminal
};

struct ClientOptions {
  std::string command;  // "chat", "describe", "vqa", "info", "load", "eval"
  bool help = false;    // --help: print ClientUsage() and exit 0
  ConnectionFlags connection;
  GenerationFlags generation;
  bool json = false;   // machine-readable output (describe, vqa, info, load, eval)
  bool stats = false;  // print usage and timings to stderr (chat, describe, vqa)

  // chat, describe, vqa: one image; load: --images (files or directories, repeatable); eval:
  // --images, the directory the dataset's image paths are relative to (default: the data file's).
  std::string image;
  std::vector<std::string> images;
  // chat: a one-shot turn instead of reading stdin.
  std::optional<std::string> message;
  // describe: DescribeStream instead of Describe.
  bool stream = false;
  // vqa.
  std::string question;
  bool long_answer = false;
  std::vector<std::string> choices;
  // load, eval (eval's default: 8, requests in flight on one connection).
  int concurrency = 1;
  std::optional<int> requests;  // total requests over all clients
  std::optional<double> duration_seconds;
  int warmup = 0;              // requests sent first and left out of the report
  std::string questions_file;  // one question per line; empty: a built-in list
  std::string rpc = "chat";    // load: "chat" or "describe" (both streamed, for TTFT)
  // load: > 0: one more client sends DescribeStream with this many beams meanwhile.
  int side_describe_beams = 0;
  EvalFlags eval;
};

// Parses argv[1..] (the command first). INVALID_ARGUMENT naming the flag on any usage error:
// unknown command or flag, a flag the command does not take, a missing or malformed value, a
// missing required flag (describe/vqa --image, vqa --question, eval --task and --data).
absl::StatusOr<ClientOptions> ParseClientArgs(const std::vector<std::string>& args);

// The full --help text, exit codes included.
std::string ClientUsage();

}  // namespace lmeye::client
