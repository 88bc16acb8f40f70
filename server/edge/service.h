// The Lmeye gRPC service (proto/lmeye/v1/lmeye.proto): thin handlers over an InferenceBackend.
//
// Each handler authorizes (when tokens are configured), converts the request proto into a
// validated InferenceRequest (proto_convert.h; INVALID_ARGUMENT naming the field), passes the
// gRPC deadline along, submits it and returns a reactor (rpc_calls.h) that streams or returns
// what the worker produces. gRPC hands each request over as bytes, parsed by request_parser.h, so
// that one that does not parse is INVALID_ARGUMENT naming the problem like any other bad
// argument (gRPC's own parse answers UNIMPLEMENTED, empty); a call whose request never arrived
// (cancelled before it did) ends CANCELLED or DEADLINE_EXCEEDED. No handler blocks: gRPC's callback
// threads are never held by a request waiting for the model.
//
// Construction, in the serve main:
//   LMEYE_ASSIGN_OR_RETURN(auto tokenizer, LoadTokenizer(model_dir + "/llm"));
//   LMEYE_ASSIGN_OR_RETURN(PromptBuilder prompts,
//                          PromptBuilder::Create(tokenizer.get(), templates, prompt_limits));
//   LMEYE_ASSIGN_OR_RETURN(auto service,
//                          LmeyeService::Create(router, std::move(prompts), options,
//                                               auth.get(), metrics.get()));
//   ... GrpcServer::Start(server_options, service.get())  (grpc_server.h)
//
// Ownership and threads: the backend, the tokenizer behind the PromptBuilder, the auth and the
// metrics must outlive the service, and the service must outlive the grpc::Server it is
// registered with (shut the server down first). Handlers run on gRPC's callback threads.
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "lmeye/v1/lmeye.grpc.pb.h"
#include "model/ipn/prompt.h"
#include "server/edge/auth.h"
#include "server/edge/request_metrics.h"
#include "server/edge/service_options.h"
#include "server/runtime/inference.h"

namespace lmeye {

class LmeyeService final : public v1::Lmeye::CallbackService {
 public:
  // `auth` null: no token needed. `metrics` null: nothing reported. InvalidArgument when the
  // options are invalid (naming the field).
  static absl::StatusOr<std::unique_ptr<LmeyeService>> Create(InferenceBackend* backend,
                                                              PromptBuilder prompts,
                                                              ServiceOptions options,
                                                              const BearerTokenAuth* auth,
                                                              RequestMetrics* metrics);

  grpc::ServerWriteReactor<v1::ChatResponse>* Chat(grpc::CallbackServerContext* context,
                                                   const v1::ChatRequest* request) override;
  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const v1::DescribeRequest* request,
                                     v1::DescribeResponse* response) override;
  grpc::ServerWriteReactor<v1::ChatResponse>* DescribeStream(
      grpc::CallbackServerContext* context, const v1::DescribeRequest* request) override;
  grpc::ServerUnaryReactor* AnswerVQA(grpc::CallbackServerContext* context,
                                      const v1::AnswerVQARequest* request,
                                      v1::AnswerVQAResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

  const ServiceOptions& options() const { return options_; }

 private:
  template <typename Request>
  using StreamHandler = grpc::ServerWriteReactor<v1::ChatResponse>* (
      LmeyeService::*)(grpc::CallbackServerContext*, const Request*);
  template <typename Request, typename Response>
  using UnaryHandler = grpc::ServerUnaryReactor* (LmeyeService::*)(grpc::CallbackServerContext*,
                                                                   const Request*, Response*);

  LmeyeService(InferenceBackend* backend, PromptBuilder prompts, ServiceOptions options,
               const BearerTokenAuth* auth, RequestMetrics* metrics);

  absl::Status Authorize(const grpc::CallbackServerContext& context) const;
  // Why a request whose bytes did not parse (`parsed`) is refused.
  absl::Status Refusal(const grpc::CallbackServerContext& context, const grpc::ByteBuffer& bytes,
                       absl::Status parsed) const;

  // Registers `handler` for `rpc` behind a parse of the request bytes (request_parser.h).
  template <typename Request>
  void TakeBytes(const char* rpc, StreamHandler<Request> handler);
  template <typename Request, typename Response>
  void TakeBytes(const char* rpc, UnaryHandler<Request, Response> handler);

  InferenceBackend* const backend_;
  const PromptBuilder prompts_;
  const ServiceOptions options_;
  const BearerTokenAuth* const auth_;
  RequestMetrics* const metrics_;
};

}  // namespace lmeye
