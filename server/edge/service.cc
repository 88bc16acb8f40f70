#include "server/edge/service.h"

#include <string>
#include <utility>
#include <vector>

#include "model/common/status_macros.h"
#include "server/edge/grpc_status.h"
#include "server/edge/proto_convert.h"
#include "server/edge/request_parser.h"
#include "server/edge/rpc_calls.h"

namespace lmeye {
namespace {

// The method's index in the generated service: the order of the rpcs in lmeye.proto.
int MethodIndex(const char* rpc) {
  const google::protobuf::ServiceDescriptor* service =
      v1::ChatRequest::descriptor()->file()->FindServiceByName("Lmeye");
  return service->FindMethodByName(rpc)->index();
}

}  // namespace

LmeyeService::LmeyeService(InferenceBackend* backend, PromptBuilder prompts, ServiceOptions options,
                           const BearerTokenAuth* auth, RequestMetrics* metrics)
    : backend_(backend),
      prompts_(std::move(prompts)),
      options_(std::move(options)),
      auth_(auth),
      metrics_(metrics) {
  TakeBytes<v1::ChatRequest>("Chat", &LmeyeService::Chat);
  TakeBytes<v1::DescribeRequest, v1::DescribeResponse>("Describe", &LmeyeService::Describe);
  TakeBytes<v1::DescribeRequest>("DescribeStream", &LmeyeService::DescribeStream);
  TakeBytes<v1::AnswerVQARequest, v1::AnswerVQAResponse>("AnswerVQA", &LmeyeService::AnswerVQA);
  TakeBytes<v1::GetModelInfoRequest, v1::ModelInfo>("GetModelInfo", &LmeyeService::GetModelInfo);
}

// Replaces the generated handler (which would parse the request itself) with one taking the
// bytes; the response stays a proto. A request that does not parse is rejected like any bad
// argument, after the token check so that unauthenticated callers learn nothing more.
template <typename Request>
void LmeyeService::TakeBytes(const char* rpc, StreamHandler<Request> handler) {
  MarkMethodRawCallback(
      MethodIndex(rpc),
      new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, v1::ChatResponse>(
          [this, rpc, handler](grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes)
              -> grpc::ServerWriteReactor<v1::ChatResponse>* {
            Request request;
            absl::Status parsed = ParseRequest(*bytes, &request);
            if (parsed.ok()) return (this->*handler)(context, &request);
            StreamCall* call = StreamCall::Create(context, rpc, metrics_);
            call->Reject(Refusal(*context, *bytes, std::move(parsed)));
            return call;
          }));
}

template <typename Request, typename Response>
void LmeyeService::TakeBytes(const char* rpc, UnaryHandler<Request, Response> handler) {
  MarkMethodRawCallback(
      MethodIndex(rpc),
      new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, Response>(
          [this, rpc, handler](grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                               Response* response) -> grpc::ServerUnaryReactor* {
            Request request;
            absl::Status parsed = ParseRequest(*bytes, &request);
            if (parsed.ok()) return (this->*handler)(context, &request, response);
            UnaryCall* call =
                UnaryCall::Create(context, rpc, metrics_, [](const InferenceResult&) {});
            call->Reject(Refusal(*context, *bytes, std::move(parsed)));
            return call;
          }));
}

absl::StatusOr<std::unique_ptr<LmeyeService>> LmeyeService::Create(InferenceBackend* backend,
                                                                   PromptBuilder prompts,
                                                                   ServiceOptions options,
                                                                   const BearerTokenAuth* auth,
                                                                   RequestMetrics* metrics) {
  if (backend == nullptr) return absl::InvalidArgumentError("LmeyeService: no backend");
  LMEYE_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<LmeyeService>(
      new LmeyeService(backend, std::move(prompts), std::move(options), auth, metrics));
}

absl::Status LmeyeService::Authorize(const grpc::CallbackServerContext& context) const {
  if (auth_ == nullptr) return absl::OkStatus();
  return auth_->Authorize(context);
}

absl::Status LmeyeService::Refusal(const grpc::CallbackServerContext& context,
                                   const grpc::ByteBuffer& bytes, absl::Status parsed) const {
  // No message at all: the stream ended before the request arrived (the client cancelled, its
  // deadline passed, its connection went), and gRPC calls a raw-bytes handler anyway, with an
  // empty buffer (there is no deserializer to fail). The client sent no bad request and is not
  // waiting for an answer: it ends as the cancel it was, so that the metrics do not count
  // withdrawn requests as INVALID_ARGUMENT. context.IsCancelled() cannot tell yet: gRPC learns of
  // the cancel shortly after it calls the handler.
  if (!bytes.Valid()) return FromGrpcStatus(CancelStatus(context));
  absl::Status auth = Authorize(context);
  return auth.ok() ? parsed : auth;
}

grpc::ServerWriteReactor<v1::ChatResponse>* LmeyeService::Chat(grpc::CallbackServerContext* context,
                                                               const v1::ChatRequest* request) {
  StreamCall* call = StreamCall::Create(context, "Chat", metrics_);
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) {
    call->Reject(auth);
    return call;
  }
  absl::StatusOr<InferenceRequest> native = ChatToInference(*request, prompts_, options_);
  if (!native.ok()) {
    call->Reject(native.status());
    return call;
  }
  call->Submit(backend_, *std::move(native));
  return call;
}

grpc::ServerWriteReactor<v1::ChatResponse>* LmeyeService::DescribeStream(
    grpc::CallbackServerContext* context, const v1::DescribeRequest* request) {
  StreamCall* call = StreamCall::Create(context, "DescribeStream", metrics_);
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) {
    call->Reject(auth);
    return call;
  }
  absl::StatusOr<InferenceRequest> native =
      DescribeToInference(*request, "DescribeStream", prompts_, options_);
  if (!native.ok()) {
    call->Reject(native.status());
    return call;
  }
  call->Submit(backend_, *std::move(native));
  return call;
}

grpc::ServerUnaryReactor* LmeyeService::Describe(grpc::CallbackServerContext* context,
                                                 const v1::DescribeRequest* request,
                                                 v1::DescribeResponse* response) {
  UnaryCall* call = UnaryCall::Create(
      context, "Describe", metrics_,
      [response](const InferenceResult& result) { FillDescribeResponse(result, response); });
  absl::Status auth = Authorize(*context);
  if (!auth.ok()) {
    call->Reject(auth);
    return call;
  }
  absl::StatusOr<InferenceRequest> native =
      DescribeToInference(*request, "Describe", prompts_, options_);
  if (!native.ok()) {
    call->Reject(native.status());
    return call;
  }
  call->Submit(backend_, *std::move(native));
  return call;
}

grpc::ServerUnaryReactor* LmeyeService::AnswerVQA(grpc::CallbackServerContext* context,
                                                  const v1::AnswerVQARequest* request,
                                                  v1::AnswerVQAResponse* response) {
  absl::Status auth = Authorize(*context);
  absl::StatusOr<InferenceRequest> native =
      auth.ok() ? AnswerVqaToInference(*request, prompts_, options_) : auth;
  // The response names choices by text; the worker only sees their ids.
  std::vector<std::string> choice_texts(request->choices().begin(), request->choices().end());
  std::vector<std::vector<int>> choice_ids;
  if (native.ok()) choice_ids = native->choices;
  UnaryCall* call = UnaryCall::Create(
      context, "AnswerVQA", metrics_,
      [response, texts = std::move(choice_texts), ids = std::move(choice_ids)](
          const InferenceResult& result) { FillAnswerVqaResponse(result, texts, ids, response); });
  if (!native.ok()) {
    call->Reject(native.status());
    return call;
  }
  call->Submit(backend_, *std::move(native));
  return call;
}

grpc::ServerUnaryReactor* LmeyeService::GetModelInfo(grpc::CallbackServerContext* context,
                                                     const v1::GetModelInfoRequest* /*request*/,
                                                     v1::ModelInfo* response) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status auth = Authorize(*context);
  if (auth.ok()) FillModelInfo(options_, prompts_.limits(), response);
  ReportEndedAtEdge("GetModelInfo", metrics_, start, auth.code());
  reactor->Finish(ToGrpcStatus(auth));
  return reactor;
}

}  // namespace lmeye
