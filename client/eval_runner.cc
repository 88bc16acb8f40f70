#include "client/eval_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "client/messages.h"
#include "lmeye/v1/lmeye.grpc.pb.h"

namespace lmeye::client {
namespace {

// A full queue is transient: retried after 0.25, 0.5, 1 and 2 seconds, then the item fails.
constexpr int kMaxRetries = 4;
constexpr auto kFirstBackoff = std::chrono::milliseconds(250);

struct ItemOutcome {
  std::optional<std::string> answer;  // set when the item was answered
  uint64_t generated_tokens = 0;
  std::optional<EvalFailure> failure;
};

bool StopsTheRun(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::PERMISSION_DENIED || code == grpc::StatusCode::UNIMPLEMENTED;
}

// One request for `item`; `answer` and `generated_tokens` are set on success.
grpc::Status Ask(const EvalRunOptions& options, const eval::EvalItem& item,
                 const std::string& image, const Connection& connection,
                 lmeye::v1::Lmeye::Stub& stub, std::string* answer, uint64_t* generated_tokens) {
  grpc::ClientContext context;
  connection.Prepare(&context);
  if (options.task == eval::EvalTask::kDescribe) {
    lmeye::v1::DescribeRequest request;
    request.set_image(image);
    FillGenerationParams(options.generation, request.mutable_params());
    lmeye::v1::DescribeResponse response;
    grpc::Status status = stub.Describe(&context, request, &response);
    *answer = response.text();
    *generated_tokens = response.final().usage().generated_tokens();
    return status;
  }
  lmeye::v1::AnswerVQARequest request;
  request.set_image(image);
  request.set_question(item.question);
  request.set_style(options.task == eval::EvalTask::kLong ? lmeye::v1::ANSWER_STYLE_LONG
                                                          : lmeye::v1::ANSWER_STYLE_SHORT);
  if (options.task == eval::EvalTask::kChoice) {
    for (const std::string& choice : item.choices) request.add_choices(choice);
  }
  FillGenerationParams(options.generation, request.mutable_params());
  lmeye::v1::AnswerVQAResponse response;
  grpc::Status status = stub.AnswerVQA(&context, request, &response);
  *answer = response.answer();
  *generated_tokens = response.final().usage().generated_tokens();
  return status;
}

ItemOutcome RunItem(const EvalRunOptions& options, const eval::EvalItem& item,
                    const Connection& connection, lmeye::v1::Lmeye::Stub& stub) {
  ItemOutcome outcome;
  auto fail_locally = [&](const std::string& message) {
    outcome.failure =
        EvalFailure{item.id, /*image_error=*/true, grpc::StatusCode::NOT_FOUND, message};
    return outcome;
  };
  absl::StatusOr<std::string> path = ImagePathOf(item, options.images);
  if (!path.ok()) return fail_locally(std::string(path.status().message()));
  absl::StatusOr<std::string> image = ReadLocalFile("images", *path);
  if (!image.ok()) return fail_locally("cannot read image \"" + *path + "\"");

  grpc::Status status;
  auto backoff = kFirstBackoff;
  for (int attempt = 0;; ++attempt) {
    std::string answer;
    uint64_t tokens = 0;
    status = Ask(options, item, *image, connection, stub, &answer, &tokens);
    if (status.ok()) {
      outcome.answer = std::move(answer);
      outcome.generated_tokens = tokens;
      return outcome;
    }
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || attempt >= kMaxRetries) {
      break;
    }
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
  outcome.failure =
      EvalFailure{item.id, /*image_error=*/false, status.error_code(), status.error_message()};
  return outcome;
}

}  // namespace

EvalRunResult RunEvalItems(const EvalRunOptions& options, const eval::EvalDataset& dataset,
                           const Connection& connection, EvalProgress* progress) {
  const auto start = std::chrono::steady_clock::now();
  const size_t n_items = dataset.items.size();
  // Each slot is written by the one thread that took its index; read after the joins.
  std::vector<std::optional<ItemOutcome>> outcomes(n_items);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex fatal_mu;
  grpc::Status fatal;

  auto stub = lmeye::v1::Lmeye::NewStub(connection.channel());  // thread-safe
  std::vector<std::thread> threads;
  const int n_threads = std::max(1, std::min<int>(options.concurrency, static_cast<int>(n_items)));
  for (int t = 0; t < n_threads; ++t) {
    threads.emplace_back([&] {
      while (!stop.load() && !(options.interrupt != nullptr && options.interrupt->load())) {
        const size_t index = next.fetch_add(1);
        if (index >= n_items) break;
        ItemOutcome outcome = RunItem(options, dataset.items[index], connection, *stub);
        if (outcome.failure && !outcome.failure->image_error &&
            StopsTheRun(outcome.failure->code)) {
          std::lock_guard<std::mutex> lock(fatal_mu);
          if (fatal.ok()) fatal = grpc::Status(outcome.failure->code, outcome.failure->message);
          stop.store(true);
        }
        if (progress != nullptr) progress->Add(outcome.failure.has_value());
        outcomes[index] = std::move(outcome);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EvalRunResult result;
  result.fatal = fatal;
  for (size_t i = 0; i < n_items; ++i) {
    const eval::EvalItem& item = dataset.items[i];
    if (!outcomes[i]) {
      ++result.n_not_sent;
      continue;
    }
    ItemOutcome& outcome = *outcomes[i];
    if (outcome.answer) {
      result.predictions.push_back({item.id, item.id_is_number, std::move(*outcome.answer)});
      result.generated_tokens += outcome.generated_tokens;
    } else {
      (outcome.failure->image_error ? result.n_image_errors : result.n_request_errors)++;
      result.failures.push_back(std::move(*outcome.failure));
    }
  }
  // A SIGINT after the last item was sent interrupted nothing.
  result.interrupted =
      options.interrupt != nullptr && options.interrupt->load() && result.n_not_sent > 0;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace lmeye::client
