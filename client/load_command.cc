// lmeye_client load: N concurrent clients, each on its own connection, send streamed requests
// (Chat with one question, or DescribeStream) back to back over the images and questions, for
// --requests in total or for --duration; then a throughput and latency report. With
// --side-describe-beams one more client sends beam-search Describes meanwhile: how much a
// Describe slows the others' streams (their inter-token latency) is what it measures.
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/chat_stream.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/load_inputs.h"
#include "client/load_report.h"
#include "client/messages.h"
#include "lmeye/v1/lmeye.grpc.pb.h"

namespace lmeye::client {
namespace {

using Clock = std::chrono::steady_clock;

// How long a client waits for its connection before the run starts.
constexpr auto kConnectTimeout = std::chrono::seconds(10);

struct LoadInputs {
  std::vector<std::string> images;  // encoded bytes; empty: text-only chat
  std::vector<std::string> questions;
};

// Sends request number `index` (DescribeStream when `describe`, else Chat) with `generation` on
// `context` and waits for its end; `status` receives the call's status.
RequestSample RunOne(bool describe, const GenerationFlags& generation, const LoadInputs& inputs,
                     const Connection& connection, lmeye::v1::Lmeye::Stub& stub, int64_t index,
                     grpc::ClientContext* context, grpc::Status* status) {
  connection.Prepare(context);
  const std::string* image =
      inputs.images.empty() ? nullptr : &inputs.images[index % inputs.images.size()];
  const auto start = Clock::now();
  std::unique_ptr<grpc::ClientReader<lmeye::v1::ChatResponse>> reader;
  if (describe) {
    lmeye::v1::DescribeRequest request;
    request.set_image(*image);
    FillGenerationParams(generation, request.mutable_params());
    reader = stub.DescribeStream(context, request);
  } else {
    lmeye::v1::ChatRequest request;
    if (image != nullptr) request.set_image(*image);
    lmeye::v1::Message* human = request.add_messages();
    human->set_role("human");
    human->set_text(inputs.questions[index % inputs.questions.size()]);
    FillGenerationParams(generation, request.mutable_params());
    reader = stub.Chat(context, request);
  }
  RequestSample sample;
  std::optional<Clock::time_point> last_piece;
  StreamOutcome outcome = ReadChatStream(reader.get(), start, [&](const std::string& piece) {
    if (piece.empty()) return;
    const auto now = Clock::now();
    if (last_piece) {
      sample.inter_token_seconds.push_back(
          std::chrono::duration<double>(now - *last_piece).count());
    }
    last_piece = now;
  });
  *status = outcome.status;
  sample.ok = outcome.status.ok();
  sample.code = StatusCodeName(outcome.status.error_code());
  sample.ttft_seconds = outcome.ttft_seconds;
  sample.e2e_seconds = outcome.e2e_seconds;
  sample.prompt_tokens = static_cast<int>(outcome.final_message.usage().prompt_tokens());
  sample.generated_tokens = static_cast<int>(outcome.final_message.usage().generated_tokens());
  return sample;
}

// The side Describe client (--side-describe-beams): on its own connection, DescribeStream with
// that many beams back to back from Start() until Stop(), which cancels the call in flight
// (left out of the samples) and returns the finished ones.
class SideDescribes {
 public:
  SideDescribes(const ClientOptions& options, const LoadInputs& inputs, Connection connection)
      : inputs_(inputs), connection_(std::move(connection)) {
    generation_ = options.generation;
    generation_.num_beams = options.side_describe_beams;
  }
  ~SideDescribes() {
    if (thread_.joinable()) Stop();
  }

  void Start() {
    thread_ = std::thread([this] {
      auto stub = lmeye::v1::Lmeye::NewStub(connection_.channel());
      for (int64_t index = 0;; ++index) {
        grpc::ClientContext context;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (stop_) return;
          in_flight_ = &context;
        }
        grpc::Status status;
        RequestSample sample = RunOne(/*describe=*/true, generation_, inputs_, connection_, *stub,
                                      index, &context, &status);
        std::lock_guard<std::mutex> lock(mutex_);
        in_flight_ = nullptr;
        if (stop_) return;  // cancelled by Stop(), or ended as the run did: not counted
        samples_.push_back(std::move(sample));
      }
    });
  }

  std::vector<RequestSample> Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      if (in_flight_ != nullptr) in_flight_->TryCancel();
    }
    thread_.join();
    return samples_;
  }

 private:
  const LoadInputs& inputs_;
  Connection connection_;
  GenerationFlags generation_;
  std::thread thread_;
  std::mutex mutex_;
  bool stop_ = false;                         // guarded by mutex_
  grpc::ClientContext* in_flight_ = nullptr;  // guarded by mutex_
  std::vector<RequestSample> samples_;        // the thread's until joined
};

// Every client sends requests back to back until `requests` have been sent in all, or until
// `duration_seconds` has passed; returns every request's sample. `first_failure` receives the
// first failed request's status (it gives the exit code and the error line).
std::vector<RequestSample> RunClients(const ClientOptions& options, const LoadInputs& inputs,
                                      const std::vector<Connection>& connections,
                                      std::optional<int> requests,
                                      std::optional<double> duration_seconds,
                                      grpc::Status* first_failure) {
  std::atomic<int64_t> next{0};
  std::mutex mutex;
  std::vector<RequestSample> samples;
  const auto end = duration_seconds
                       ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(*duration_seconds))
                       : Clock::time_point::max();
  std::vector<std::thread> clients;
  for (size_t i = 0; i < connections.size(); ++i) {
    clients.emplace_back([&, i] {
      auto stub = lmeye::v1::Lmeye::NewStub(connections[i].channel());
      while (true) {
        const int64_t index = next.fetch_add(1);
        if (requests && index >= *requests) break;
        if (Clock::now() >= end) break;
        grpc::ClientContext context;
        grpc::Status status;
        RequestSample sample = RunOne(options.rpc == "describe", options.generation, inputs,
                                      connections[i], *stub, index, &context, &status);
        std::lock_guard<std::mutex> lock(mutex);
        if (!status.ok() && first_failure->ok()) *first_failure = status;
        samples.push_back(std::move(sample));
      }
    });
  }
  for (std::thread& client : clients) client.join();
  return samples;
}

}  // namespace

int RunLoad(const ClientOptions& options, std::ostream& out) {
  LoadInputs inputs;
  auto files = ListImageFiles(options.images);
  if (!files.ok()) return ReportLocalError(files.status());
  for (const std::string& file : *files) {
    auto bytes = ReadLocalFile("images", file);
    if (!bytes.ok()) return ReportLocalError(bytes.status());
    inputs.images.push_back(*std::move(bytes));
  }
  if (options.rpc == "describe" && inputs.images.empty()) {
    return ReportLocalError(
        absl::InvalidArgumentError("load --rpc describe: --images is required"));
  }
  if (options.side_describe_beams > 0 && inputs.images.empty()) {
    return ReportLocalError(
        absl::InvalidArgumentError("load --side-describe-beams: --images is required"));
  }
  if (!options.questions_file.empty()) {
    auto text = ReadLocalFile("questions", options.questions_file);
    if (!text.ok()) return ReportLocalError(text.status());
    inputs.questions = ParseQuestions(*text);
    if (inputs.questions.empty()) {
      return ReportLocalError(
          absl::NotFoundError("--questions: no question in \"" + options.questions_file + "\""));
    }
  } else {
    inputs.questions = BuiltinQuestions();
  }

  // Connect every client before the clock starts: connection setup is not serving time.
  std::vector<Connection> connections;
  const int n_connections = options.concurrency + (options.side_describe_beams > 0 ? 1 : 0);
  for (int i = 0; i < n_connections; ++i) {
    auto connection = Connection::Create(options.connection, /*own_connection=*/true);
    if (!connection.ok()) return ReportLocalError(connection.status());
    if (!connection->channel()->WaitForConnected(std::chrono::system_clock::now() +
                                                 kConnectTimeout)) {
      return ReportRpcError("load", grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                 "cannot connect to " + options.connection.server));
    }
    connections.push_back(*std::move(connection));
  }

  std::optional<SideDescribes> side;
  if (options.side_describe_beams > 0) {
    side.emplace(options, inputs, std::move(connections.back()));
    connections.pop_back();
  }

  if (options.warmup > 0) {
    // Not reported: first requests pay for allocations and caches warming up.
    std::optional<int> warmup = options.warmup;
    grpc::Status warmup_failure;
    RunClients(options, inputs, connections, warmup, std::nullopt, &warmup_failure);
    if (!warmup_failure.ok()) return ReportRpcError("load (warmup)", warmup_failure);
  }
  grpc::Status first_failure;
  if (side) side->Start();
  const auto start = Clock::now();
  const std::vector<RequestSample> samples = RunClients(
      options, inputs, connections, options.requests, options.duration_seconds, &first_failure);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  LoadReport report = BuildLoadReport(samples, options.concurrency, wall);
  if (side) AddSideDescribes(side->Stop(), options.side_describe_beams, &report);
  out << (options.json ? LoadReportJson(report) + "\n" : FormatLoadReport(report));
  if (!first_failure.ok()) return ReportRpcError("load", first_failure);
  return kExitOk;
}

}  // namespace lmeye::client
