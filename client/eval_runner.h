// Runs a dataset's items against the server: `concurrency` requests in flight on one channel
// (HTTP/2 streams; the server batches them), each item's image read from disk just before its
// request. Per-item failures (image missing or unreadable, a request the server refuses or that
// times out) are recorded with the item's id and the run goes on; failures that would repeat for
// every item (UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED) stop it: requests
// in flight finish, no new ones are sent.
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "client/client_options.h"
#include "client/connection.h"
#include "client/eval_inputs.h"
#include "client/eval_progress.h"
#include "model/eval/datasets.h"
#include "model/eval/predictions.h"

namespace lmeye::client {

// What each task calls: vqa AnswerVQA (short style), long AnswerVQA (long style), choice
// AnswerVQA with the item's choices (the prediction is the chosen choice's text), describe
// Describe (the item's question, if any, is not sent: Describe has its own prompt).
struct EvalRunOptions {
  eval::EvalTask task = eval::EvalTask::kVqa;
  GenerationFlags generation;
  int concurrency = 1;
  ImageLocator images;
  // Set (e.g. by a SIGINT handler) to stop sending: requests in flight finish, the rest are not
  // sent. May be null.
  const std::atomic<bool>* interrupt = nullptr;
};

struct EvalFailure {
  std::string id;                                     // the item's id
  bool image_error = false;                           // local: the image could not be read
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;  // the request's status otherwise
  std::string message;
};

struct EvalRunResult {
  std::vector<eval::Prediction> predictions;  // answered items, in dataset order
  std::vector<EvalFailure> failures;          // in dataset order
  int n_image_errors = 0;
  int n_request_errors = 0;
  int n_not_sent = 0;        // items skipped after a fatal error or an interrupt
  bool interrupted = false;  // `interrupt` stopped the run
  grpc::Status fatal;        // the error that stopped the run (OK when it ran to the end)
  double wall_seconds = 0;
  uint64_t generated_tokens = 0;  // summed over answered items (the servers' usage)
};

// Sends every item once (RESOURCE_EXHAUSTED, a full queue, is retried a few times with
// backoff). `progress` may be null. Blocks until every request ended.
EvalRunResult RunEvalItems(const EvalRunOptions& options, const eval::EvalDataset& dataset,
                           const Connection& connection, EvalProgress* progress);

}  // namespace lmeye::client
