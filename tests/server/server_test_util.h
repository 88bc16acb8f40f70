// Test helpers for the gRPC edge: a fake InferenceBackend, a loopback server around the real
// LmeyeService, and raw calls to the health and reflection services (Debian ships no
// health.proto / reflection.proto for clients, so their few bytes are written by hand).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lmeye/v1/lmeye.grpc.pb.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "server/edge/auth.h"
#include "server/edge/grpc_server.h"
#include "server/edge/request_metrics.h"
#include "server/edge/service.h"
#include "server/runtime/inference.h"
#include "tests/common/test_data.h"

namespace lmeye::testing {

// Plays a worker: records every call, streams `deltas` then OnDone with `result` (or
// `done_status`), each call on its own thread. `hold`: the call is kept until Release(); with
// `hold_after_deltas` the deltas are streamed first.
class FakeBackend : public InferenceBackend {
 public:
  struct Script {
    std::vector<std::string> deltas = {"Hello", ",", " world", "!"};
    absl::Status submit_status;  // non-OK: Submit returns it (queue full, draining)
    absl::Status done_status;    // non-OK: OnDone reports it
    bool hold = false;
    bool hold_after_deltas = false;
    // Everything only after Release(), ignoring the cancel flag: a worker that answers late.
    bool late = false;
    InferenceResult result;  // text defaults to the deltas concatenated when empty
  };

  FakeBackend() {
    script_.result.finish_reason = FinishReason::kEos;
    script_.result.n_prompt_tokens = 12;
    script_.result.n_generated_tokens = 4;
    script_.result.n_cached_prompt_tokens = 3;
    script_.result.timings = {0.01, 0.02, 0.05, 0.003};
    script_.result.image_cache_hit = true;
  }

  ~FakeBackend() override {
    ReleaseAll();
    for (std::thread& t : threads_) t.join();
  }

  void set_script(Script script) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(script);
  }
  Script script() {
    absl::MutexLock lock(&mu_);
    return script_;
  }

  absl::Status Submit(std::shared_ptr<InferenceCall> call) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back(call);
    if (!script_.submit_status.ok()) return script_.submit_status;
    Script script = script_;
    auto release = std::make_shared<Gate>();
    gates_.push_back(release);
    threads_.emplace_back([call, script, release] {
      if (script.late) {
        release->Wait();
        for (const std::string& delta : script.deltas) call->sink->OnText(delta);
        InferenceResult result = script.result;
        call->sink->OnDone(std::move(result));
        return;
      }
      if (script.hold_after_deltas || !script.hold) Stream(*call, script);
      if (script.hold || script.hold_after_deltas) release->Wait();
      Finish(*call, script);
    });
    return absl::OkStatus();
  }

  // Every call submitted so far (also the rejected ones).
  std::vector<std::shared_ptr<InferenceCall>> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::shared_ptr<InferenceCall> WaitForCall(size_t index = 0,
                                             absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto ready = [this, index] { return calls_.size() > index; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return calls_.size() > index ? calls_[index] : nullptr;
  }
  size_t n_calls() {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }
  // Lets held calls finish (OnDone after whatever happened to their RPC).
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    for (auto& gate : gates_) gate->Open();
  }
  // Joins finished calls' threads and forgets the calls (drops the worker's references).
  void DropCalls() {
    ReleaseAll();
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
    absl::MutexLock lock(&mu_);
    calls_.clear();
    gates_.clear();
  }

 private:
  struct Gate {
    absl::Mutex mu;
    bool open = false;
    void Open() {
      absl::MutexLock lock(&mu);
      open = true;
    }
    void Wait() {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(&open));
    }
  };

  static void Stream(InferenceCall& call, const Script& script) {
    for (const std::string& delta : script.deltas) {
      if (call.cancelled.load()) return;
      call.sink->OnText(delta);
    }
  }
  static void Finish(InferenceCall& call, const Script& script) {
    if (!script.done_status.ok()) {
      call.sink->OnDone(script.done_status);
      return;
    }
    if (call.cancelled.load()) {
      call.sink->OnDone(absl::CancelledError("cancelled"));
      return;
    }
    InferenceResult result = script.result;
    if (result.text.empty()) {
      for (const std::string& d : script.deltas) result.text += d;
    }
    call.sink->OnDone(std::move(result));
  }

  absl::Mutex mu_;
  Script script_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<InferenceCall>> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Gate>> gates_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

// Records every RequestRecord (copied, the rpc name owned).
class RecordingMetrics : public RequestMetrics {
 public:
  struct Entry {
    std::string rpc;
    RequestRecord record;
  };
  void OnRequestDone(const RequestRecord& record) override {
    absl::MutexLock lock(&mu_);
    entries_.push_back({std::string(record.rpc.data(), record.rpc.size()), record});
  }
  std::vector<Entry> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }
  bool WaitFor(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto ready = [this, n] { return entries_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

inline ServiceOptions TestServiceOptions() {
  ServiceOptions options;
  options.limits.max_image_bytes = 1024;
  options.limits.max_new_tokens = 256;
  options.defaults.sampling.max_new_tokens = 32;
  options.defaults.sampling.temperature = 0.0;
  options.model_info.model_dir = "/models/test";
  options.model_info.llm_backbone = "opt h=64 layers=2 vocab=50272";
  options.model_info.dtype = "fp32";
  options.model_info.device = "cpu";
  options.model_info.workers = 2;
  options.model_info.version = "test";
  options.model_info.adapter_layout = "lmeye";
  return options;
}

struct TestServerConfig {
  ServiceOptions service = TestServiceOptions();
  GrpcServerOptions server;
  std::string tokens;   // token file text; empty: no auth
  bool serving = true;  // health SERVING once started (as the serve main does when loaded)
};

// A loopback server around the real service, the fake backend and the GPT-2 tokenizer.
class TestServer {
 public:
  TestServer() : TestServer(TestServerConfig()) {}
  explicit TestServer(TestServerConfig config) : backend_(std::make_unique<FakeBackend>()) {
    auto tokenizer = LoadTokenizer(TestData("tokenizers/gpt2"));
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = *std::move(tokenizer);
    auto prompts = PromptBuilder::Create(tokenizer_.get());
    EXPECT_TRUE(prompts.ok()) << prompts.status();
    if (!config.tokens.empty()) {
      auto auth = BearerTokenAuth::FromText(config.tokens, "test");
      EXPECT_TRUE(auth.ok()) << auth.status();
      auth_ = *std::move(auth);
    }
    auto service = LmeyeService::Create(backend_.get(), *std::move(prompts), config.service,
                                        auth_.get(), &metrics_);
    EXPECT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    if (config.server.listen == GrpcServerOptions().listen) config.server.listen = "127.0.0.1:0";
    auto server =
        GrpcServer::Start(config.server, {{service_.get(), v1::Lmeye::service_full_name()}});
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    if (config.serving) server_->SetServing(true);
  }

  ~TestServer() {
    server_->Shutdown(absl::Seconds(2));
    backend_.reset();  // joins the fake's threads: late OnDone calls land here
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<v1::Lmeye::Stub> Stub() const { return v1::Lmeye::NewStub(Channel()); }

  FakeBackend& backend() { return *backend_; }
  RecordingMetrics& metrics() { return metrics_; }
  GrpcServer& server() { return *server_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<BearerTokenAuth> auth_;
  RecordingMetrics metrics_;
  std::unique_ptr<LmeyeService> service_;
  std::unique_ptr<GrpcServer> server_;
};

// --- Raw calls for services without client stubs here. ---

inline grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

inline std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// One unary call with raw request bytes; returns the status, fills `response`.
inline grpc::Status RawUnaryCall(grpc::Channel* channel, const std::string& method,
                                 const std::string& request, std::string* response,
                                 grpc::ClientContext* context = nullptr) {
  grpc::ClientContext own_context;
  if (context == nullptr) context = &own_context;
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::GenericStub stub(std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::CompletionQueue cq;
  grpc::ByteBuffer reply;
  grpc::Status status;
  auto call = stub.PrepareUnaryCall(context, method, ToByteBuffer(request), &cq);
  call->StartCall();
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  *response = FromByteBuffer(reply);
  return status;
}

// grpc.health.v1.Health/Check for `service` ("" = the server overall). Returns the status
// enum value (1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN) or -1 with the error in `error`.
inline int HealthCheck(grpc::Channel* channel, const std::string& service,
                       grpc::Status* error = nullptr) {
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0A);  // field 1, length-delimited
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  std::string response;
  grpc::Status status = RawUnaryCall(channel, "/grpc.health.v1.Health/Check", request, &response);
  if (error != nullptr) *error = status;
  if (!status.ok()) return -1;
  if (response.empty()) return 0;  // UNKNOWN: the default value is not sent
  if (response.size() == 2 && response[0] == 0x08) return response[1];
  return -2;
}

// grpc.reflection.v1alpha list_services: the raw response bytes (service names appear in it).
inline grpc::Status ReflectionListServices(grpc::Channel* channel, std::string* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::GenericStub stub(std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::CompletionQueue cq;
  void* tag = nullptr;
  bool ok = false;
  auto next = [&] { return cq.Next(&tag, &ok) && ok; };
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  next();
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
  call->Write(ToByteBuffer(std::string("\x3a\x00", 2)), reinterpret_cast<void*>(2));
  next();
  call->WritesDone(reinterpret_cast<void*>(3));
  next();
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(4));
  const bool got = next();
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  next();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (got) *response = FromByteBuffer(reply);
  return status;
}

}  // namespace lmeye::testing
