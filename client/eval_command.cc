// lmeye_client eval: a dataset against the server (or saved predictions, --score-only), scored
// with model/eval's implementations of the paper's metrics. Predictions go to a file in the
// official result format, the report to a JSON file (per-item values included) and to `out` as
// a table. The run's own numbers (failures with their item ids, wall time) are the report's
// "run" object.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/eval_inputs.h"
#include "client/eval_progress.h"
#include "client/eval_runner.h"
#include "client/exit_codes.h"
#include "model/eval/meteor_resources.h"
#include "model/eval/predictions.h"
#include "model/eval/report.h"
#include "model/eval/scoring.h"
#include "nlohmann/json.hpp"

#ifndef LMEYE_DEFAULT_METEOR_DIR
#define LMEYE_DEFAULT_METEOR_DIR "model/eval/meteor"
#endif

namespace lmeye::client {
namespace {

// How long eval waits for the server before calling it unreachable.
constexpr auto kConnectTimeout = std::chrono::seconds(10);
// Failures printed to stderr one by one; the rest are counted (all are in the report).
constexpr int kMaxPrintedFailures = 20;

// SIGINT during a run: stop sending, keep what was answered (predictions and report are written).
// A second SIGINT ends the process as usual.
std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // async-signal-safe
}

// Installs OnInterrupt for the object's lifetime.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    previous_ = std::signal(SIGINT, OnInterrupt);
  }
  ~InterruptScope() { std::signal(SIGINT, previous_); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  void (*previous_)(int) = SIG_DFL;
};

// Errors before any request: files the user gave. Malformed data is a local-input error too, not
// a usage error: the command line was fine.
int ReportEvalInputError(const absl::Status& status) {
  std::cerr << "lmeye_client: eval: " << status.message() << "\n";
  return kExitLocalInput;
}

bool WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  return static_cast<bool>(file);
}

// METEOR's data, for the caption tasks. An explicit --meteor that cannot be loaded is an error;
// the built-in default that is not there (an installed client without the source tree) only skips
// METEOR, with a warning. `meteor` stays null when METEOR is skipped.
absl::Status LoadMeteor(const ClientOptions& options, eval::EvalTask task,
                        std::unique_ptr<eval::MeteorResources>* meteor) {
  if (options.eval.no_meteor ||
      (task != eval::EvalTask::kLong && task != eval::EvalTask::kDescribe)) {
    return absl::OkStatus();
  }
  const bool given = !options.eval.meteor_dir.empty();
  const std::string dir = given ? options.eval.meteor_dir : LMEYE_DEFAULT_METEOR_DIR;
  auto loaded = eval::MeteorResources::Load(dir);
  if (loaded.ok()) {
    *meteor = *std::move(loaded);
    return absl::OkStatus();
  }
  if (given) {
    return absl::NotFoundError(absl::StrCat("--meteor: ", loaded.status().message()));
  }
  std::cerr << "lmeye_client: eval: METEOR skipped: " << loaded.status().message()
            << " (--meteor DIR names Meteor's data)\n";
  return absl::OkStatus();
}

nlohmann::json FailuresJson(const EvalRunResult& run) {
  nlohmann::json failures = nlohmann::json::array();
  for (const EvalFailure& f : run.failures) {
    failures.push_back({{"id", f.id},
                        {"code", f.image_error ? "IMAGE" : StatusCodeName(f.code)},
                        {"message", f.message}});
  }
  return failures;
}

nlohmann::json RunJson(const ClientOptions& options, const EvalRunResult& run,
                       const std::string& predictions_path) {
  nlohmann::json json = {
      {"data", options.eval.data},
      {"server", options.connection.server},
      {"concurrency", options.concurrency},
      {"predictions", predictions_path},
      {"n_predictions", run.predictions.size()},
      {"n_failed", run.failures.size()},
      {"n_image_errors", run.n_image_errors},
      {"n_request_errors", run.n_request_errors},
      {"n_not_sent", run.n_not_sent},
      {"wall_seconds", run.wall_seconds},
      {"items_per_second", run.wall_seconds > 0
                               ? (run.predictions.size() + run.failures.size()) / run.wall_seconds
                               : 0.0},
      {"generated_tokens", run.generated_tokens},
      {"failures", FailuresJson(run)},
  };
  if (!options.eval.annotations.empty()) json["annotations"] = options.eval.annotations;
  if (run.interrupted) json["stopped_by"] = "interrupted (SIGINT)";
  if (!run.fatal.ok()) {
    json["stopped_by"] =
        absl::StrCat(StatusCodeName(run.fatal.error_code()), ": ", run.fatal.error_message());
  }
  return json;
}

std::string FormatRunSummary(const EvalRunResult& run, const std::string& predictions_path) {
  std::string out = absl::StrFormat(
      "answered %d, failed %d (images %d, requests %d), not sent %d; %.1f s, %.2f items/s\n"
      "predictions: %s\n",
      run.predictions.size(), run.failures.size(), run.n_image_errors, run.n_request_errors,
      run.n_not_sent, run.wall_seconds,
      run.wall_seconds > 0 ? (run.predictions.size() + run.failures.size()) / run.wall_seconds
                           : 0.0,
      predictions_path);
  return out;
}

// Scores, writes the report file and prints the report. Returns the exit code of that part
// (kExitOk, or kExitLocalInput when the report cannot be written).
int ScoreAndReport(const ClientOptions& options, const eval::EvalDataset& dataset,
                   const std::vector<eval::Prediction>& predictions,
                   const eval::MeteorResources* meteor, nlohmann::json run_json,
                   const std::string& summary, std::ostream& out) {
  eval::ScoringOptions scoring;
  scoring.meteor = meteor;
  absl::StatusOr<eval::ScoreReport> report = eval::ScorePredictions(dataset, predictions, scoring);
  if (!report.ok()) {
    std::cerr << "lmeye_client: eval: scoring: " << report.status().message() << "\n";
    return kExitOther;
  }
  nlohmann::json json = eval::ReportToJson(*report, /*include_items=*/true);
  json["run"] = std::move(run_json);
  const std::string report_path = ReportPath(options);
  const bool written = WriteTextFile(
      report_path, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (options.json) {
    json.erase("items");  // per-item values are in the file
    out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    out << eval::FormatReportTable(*report) << summary << "report: " << report_path << "\n";
  }
  if (!written) {
    std::cerr << "lmeye_client: eval: --report: cannot write \"" << report_path << "\"\n";
    return kExitLocalInput;
  }
  return kExitOk;
}

int ScoreOnly(const ClientOptions& options, const eval::EvalDataset& dataset,
              const eval::MeteorResources* meteor, std::ostream& out) {
  auto predictions = eval::ReadPredictions(options.eval.score_only);
  if (!predictions.ok()) {
    return ReportEvalInputError(
        absl::Status(predictions.status().code(),
                     absl::StrCat("--score-only: ", predictions.status().message())));
  }
  nlohmann::json run = {{"data", options.eval.data},
                        {"score_only", options.eval.score_only},
                        {"n_predictions", predictions->size()}};
  if (!options.eval.annotations.empty()) run["annotations"] = options.eval.annotations;
  const std::string summary = absl::StrCat("scored ", predictions->size(),
                                           " saved predictions: ", options.eval.score_only, "\n");
  return ScoreAndReport(options, dataset, *predictions, meteor, std::move(run), summary, out);
}

// The exit code of a finished run: the stopping error, else the first failure in dataset order;
// an interrupted run that failed nowhere is kExitOther (not every item was answered).
int RunExitCode(const EvalRunResult& run) {
  if (!run.fatal.ok()) return ReportRpcError("eval", run.fatal);
  if (run.interrupted) {
    std::cerr << "lmeye_client: eval: interrupted; " << run.n_not_sent << " items not sent\n";
  }
  int printed = 0;
  for (const EvalFailure& f : run.failures) {
    if (printed++ == kMaxPrintedFailures) {
      std::cerr << "lmeye_client: eval: ... " << run.failures.size() - kMaxPrintedFailures
                << " more failures in the report\n";
      break;
    }
    std::cerr << "lmeye_client: eval: item " << f.id << ": "
              << (f.image_error ? std::string("image") : StatusCodeName(f.code)) << ": "
              << f.message << "\n";
  }
  if (run.failures.empty()) return run.interrupted ? kExitOther : kExitOk;
  const EvalFailure& first = run.failures.front();
  return first.image_error ? kExitLocalInput : ExitCodeForStatus(first.code);
}

}  // namespace

int RunEval(const ClientOptions& options, std::ostream& out) {
  auto dataset = LoadEvalDataset(options);
  if (!dataset.ok()) return ReportEvalInputError(dataset.status());
  std::unique_ptr<eval::MeteorResources> meteor;
  if (absl::Status s = LoadMeteor(options, dataset->task, &meteor); !s.ok()) {
    return ReportEvalInputError(s);
  }
  if (!options.eval.score_only.empty()) return ScoreOnly(options, *dataset, meteor.get(), out);

  auto connection = Connection::Create(options.connection);
  if (!connection.ok()) return ReportLocalError(connection.status());
  // A shorter --timeout bounds the wait for the connection too.
  std::chrono::duration<double> connect_timeout = kConnectTimeout;
  if (options.connection.timeout_seconds > 0) {
    connect_timeout = std::min(connect_timeout,
                               std::chrono::duration<double>(options.connection.timeout_seconds));
  }
  if (!connection->channel()->WaitForConnected(
          std::chrono::system_clock::now() +
          std::chrono::duration_cast<std::chrono::system_clock::duration>(connect_timeout))) {
    return ReportRpcError("eval", grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                               "cannot connect to " + options.connection.server));
  }
  EvalRunOptions run_options;
  run_options.task = dataset->task;
  run_options.generation = options.generation;
  run_options.concurrency = options.concurrency;
  run_options.images = MakeImageLocator(options);
  const bool show_progress = options.eval.progress.value_or(isatty(STDERR_FILENO) == 1);
  EvalProgress progress(static_cast<int>(dataset->items.size()),
                        show_progress ? &std::cerr : nullptr, isatty(STDERR_FILENO) == 1);
  EvalRunResult run;
  {
    InterruptScope interrupt_scope;
    run_options.interrupt = &g_interrupted;
    run = RunEvalItems(run_options, *dataset, *connection, &progress);
  }
  progress.Finish();

  const std::string predictions_path = PredictionsPath(options);
  const bool written = WriteTextFile(
      predictions_path, eval::FormatPredictions(dataset->task, run.predictions) + "\n");
  const int report_code = ScoreAndReport(options, *dataset, run.predictions, meteor.get(),
                                         RunJson(options, run, predictions_path),
                                         FormatRunSummary(run, predictions_path), out);
  const int run_code = RunExitCode(run);
  if (!written) {
    std::cerr << "lmeye_client: eval: --predictions: cannot write \"" << predictions_path << "\"\n";
    return kExitLocalInput;
  }
  return run_code != kExitOk ? run_code : report_code;
}

}  // namespace lmeye::client
