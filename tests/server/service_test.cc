// The Lmeye service through a real gRPC stub on loopback, with a fake backend: streaming order
// and the final message, conversion and defaults, every bad field, error mapping, deadlines,
// cancellation, metrics.
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/edge/proto_convert.h"
#include "tests/server/server_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::testing::FakeBackend;
using ::lmeye::testing::TestServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct StreamOutcome {
  std::vector<std::string> deltas;
  std::vector<v1::Final> finals;
  int n_messages = 0;
  bool final_was_last = true;
  grpc::Status status;
};

StreamOutcome ReadStream(grpc::ClientReaderInterface<v1::ChatResponse>* reader) {
  StreamOutcome out;
  v1::ChatResponse response;
  while (reader->Read(&response)) {
    ++out.n_messages;
    if (!out.finals.empty()) out.final_was_last = false;
    if (response.has_delta()) out.deltas.push_back(response.delta());
    if (response.has_final()) out.finals.push_back(response.final());
  }
  out.status = reader->Finish();
  return out;
}

StreamOutcome RunChat(v1::Lmeye::Stub& stub, const v1::ChatRequest& request,
                      grpc::ClientContext* context = nullptr) {
  grpc::ClientContext own;
  if (context == nullptr) context = &own;
  auto reader = stub.Chat(context, request);
  return ReadStream(reader.get());
}

v1::ChatRequest SimpleChat() {
  v1::ChatRequest request;
  request.set_image("\x89PNG fake image bytes");
  v1::Message* m = request.add_messages();
  m->set_role("human");
  m->set_text("What is in the picture?");
  return request;
}

v1::AnswerVQARequest SimpleVqa() {
  v1::AnswerVQARequest request;
  request.set_image("jpeg");
  request.set_question("What color is the cat?");
  return request;
}

v1::DescribeRequest SimpleDescribe() {
  v1::DescribeRequest request;
  request.set_image("jpeg");
  return request;
}

TEST(ServiceChat, StreamsDeltasInOrderThenOneFinal) {
  TestServer server;
  auto stub = server.Stub();
  StreamOutcome out = RunChat(*stub, SimpleChat());
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_THAT(out.deltas, ElementsAre("Hello", ",", " world", "!"));
  ASSERT_EQ(out.finals.size(), 1u);
  EXPECT_TRUE(out.final_was_last);
  const v1::Final& final_message = out.finals[0];
  EXPECT_EQ(final_message.text(), "Hello, world!");
  EXPECT_EQ(final_message.finish_reason(), v1::FINISH_REASON_EOS);
  EXPECT_EQ(final_message.usage().prompt_tokens(), 12u);
  EXPECT_EQ(final_message.usage().generated_tokens(), 4u);
  EXPECT_EQ(final_message.usage().cached_prompt_tokens(), 3u);
  EXPECT_DOUBLE_EQ(final_message.timings().queue_seconds(), 0.01);
  EXPECT_DOUBLE_EQ(final_message.timings().time_to_first_token_seconds(), 0.02);
  EXPECT_DOUBLE_EQ(final_message.timings().total_seconds(), 0.05);
  EXPECT_DOUBLE_EQ(final_message.timings().interaction_seconds(), 0.003);
  EXPECT_TRUE(final_message.image_cache_hit());
}

TEST(ServiceChat, ConvertsTheConversationAndAppliesServerDefaults) {
  TestServer server;
  auto stub = server.Stub();
  v1::ChatRequest request = SimpleChat();
  request.mutable_messages(0)->set_role("User");
  v1::Message* a = request.add_messages();
  a->set_role("gpt");
  a->set_text("A cat.");
  v1::Message* q = request.add_messages();
  q->set_role("human");
  q->set_text("What color?");
  ASSERT_TRUE(RunChat(*stub, request).status.ok());

  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  const InferenceRequest& native = call->request;
  EXPECT_EQ(native.rpc, "Chat");
  EXPECT_EQ(native.image, request.image());
  EXPECT_EQ(native.kind, RequestKind::kGenerate);
  // The prompt is the rendered conversation, tokenized whole (GPT-2: no BOS prefix).
  auto expected = server.tokenizer().Encode(
      "Human: What is in the picture?\nAssistant: A cat.\nHuman: What color?\nAssistant:");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(native.prompt.text, *expected);
  EXPECT_TRUE(native.prompt.prefix.empty());
  // Unset params: the server defaults.
  const ServiceOptions defaults = testing::TestServiceOptions();
  EXPECT_EQ(native.sampling.max_new_tokens, defaults.defaults.sampling.max_new_tokens);
  EXPECT_EQ(native.sampling.temperature, 0.0);
  EXPECT_EQ(native.sampling.top_p, 1.0);
  EXPECT_FALSE(native.sampling.seed.has_value());
  EXPECT_EQ(native.num_beams, 1);
  EXPECT_TRUE(native.interaction);
  EXPECT_EQ(native.deadline, absl::InfiniteFuture());
}

TEST(ServiceChat, PassesEveryGenerationParameter) {
  TestServer server;
  auto stub = server.Stub();
  v1::ChatRequest request = SimpleChat();
  request.clear_image();  // a text-only chat is allowed
  v1::GenerationParams* p = request.mutable_params();
  p->set_max_new_tokens(7);
  p->set_temperature(0.7f);
  p->set_top_k(40);
  p->set_top_p(0.9f);
  p->set_repetition_penalty(1.2f);
  p->set_seed(1234);
  p->add_stop("\n");
  p->set_ignore_eos(true);
  p->set_interaction(false);
  ASSERT_TRUE(RunChat(*stub, request).status.ok());
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  const SamplingParams& s = call->request.sampling;
  EXPECT_TRUE(call->request.image.empty());
  EXPECT_EQ(s.max_new_tokens, 7);
  EXPECT_FLOAT_EQ(s.temperature, 0.7f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.2f);
  ASSERT_TRUE(s.seed.has_value());
  EXPECT_EQ(*s.seed, 1234u);
  EXPECT_THAT(s.stop, ElementsAre("\n"));
  EXPECT_TRUE(s.ignore_eos);
  EXPECT_FALSE(call->request.interaction);
  EXPECT_EQ(call->request.num_beams, 1);
}

TEST(ServiceChat, ManyPiecesArriveWholeAndInOrder) {
  // More pieces than the reactor queues: a slow reader gets them merged, never lost.
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.deltas.clear();
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    script.deltas.push_back(std::to_string(i) + " ");
    expected += script.deltas.back();
  }
  server.backend().set_script(script);
  auto stub = server.Stub();
  StreamOutcome out = RunChat(*stub, SimpleChat());
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  std::string joined;
  for (const std::string& d : out.deltas) joined += d;
  EXPECT_EQ(joined, expected);
  ASSERT_EQ(out.finals.size(), 1u);
  EXPECT_EQ(out.finals[0].text(), expected);
}

TEST(ServiceDescribe, DefaultsToFiveBeamsAndReturnsTheText) {
  TestServer server;
  auto stub = server.Stub();
  grpc::ClientContext context;
  v1::DescribeResponse response;
  grpc::Status status = stub->Describe(&context, SimpleDescribe(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), "Hello, world!");
  EXPECT_EQ(response.final().text(), "Hello, world!");
  EXPECT_EQ(response.final().usage().generated_tokens(), 4u);
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->request.rpc, "Describe");
  EXPECT_EQ(call->request.num_beams, 5);
  auto expected = server.tokenizer().Encode("Give a detailed description of this image.");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(call->request.prompt.text, *expected);
}

TEST(ServiceDescribe, SamplingAskedForMeansOneBeam) {
  TestServer server;
  auto stub = server.Stub();
  v1::DescribeRequest request = SimpleDescribe();
  request.mutable_params()->set_temperature(0.8f);
  grpc::ClientContext context;
  v1::DescribeResponse response;
  ASSERT_TRUE(stub->Describe(&context, request, &response).ok());
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->request.num_beams, 1);
}

TEST(ServiceDescribe, StreamWithBeamSearchSendsTheTextAsOneDelta) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.deltas.clear();  // beam search streams nothing
  script.result.text = "A cat on a mat.";
  server.backend().set_script(script);
  auto stub = server.Stub();
  grpc::ClientContext context;
  auto reader = stub->DescribeStream(&context, SimpleDescribe());
  StreamOutcome out = ReadStream(reader.get());
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_THAT(out.deltas, ElementsAre("A cat on a mat."));
  ASSERT_EQ(out.finals.size(), 1u);
  EXPECT_EQ(out.finals[0].text(), "A cat on a mat.");
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->request.rpc, "DescribeStream");
  EXPECT_EQ(call->request.num_beams, 5);
}

TEST(ServiceAnswerVqa, GeneratedAnswer) {
  TestServer server;
  auto stub = server.Stub();
  v1::AnswerVQARequest request = SimpleVqa();
  request.set_style(v1::ANSWER_STYLE_LONG);
  grpc::ClientContext context;
  v1::AnswerVQAResponse response;
  ASSERT_TRUE(stub->AnswerVQA(&context, request, &response).ok());
  EXPECT_EQ(response.answer(), "Hello, world!");
  EXPECT_EQ(response.choice_index(), -1);
  EXPECT_EQ(response.choice_scores_size(), 0);
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->request.kind, RequestKind::kGenerate);
  auto expected = server.tokenizer().Encode("Question: What color is the cat?\nAnswer in detail:");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(call->request.prompt.text, *expected);
}

TEST(ServiceAnswerVqa, MultipleChoiceScoresEveryChoice) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.deltas.clear();
  script.result.choices.choices = {
      {-3.0, -1.5, {-1.f, -2.f}}, {-1.0, -1.0, {-1.f}}, {-5.0, -5.0, {-5.f}}};
  script.result.choices.best = 1;
  script.result.choices.best_by_mean = 1;
  server.backend().set_script(script);
  auto stub = server.Stub();
  v1::AnswerVQARequest request = SimpleVqa();
  request.add_choices("black and white");
  request.add_choices("orange");
  request.add_choices("blue");
  grpc::ClientContext context;
  v1::AnswerVQAResponse response;
  grpc::Status status = stub->AnswerVQA(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.answer(), "orange");
  EXPECT_EQ(response.choice_index(), 1);
  ASSERT_EQ(response.choice_scores_size(), 3);
  EXPECT_EQ(response.choice_scores(0).text(), "black and white");
  EXPECT_DOUBLE_EQ(response.choice_scores(0).total_logprob(), -3.0);
  EXPECT_DOUBLE_EQ(response.choice_scores(0).mean_logprob(), -1.5);

  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->request.kind, RequestKind::kScoreChoices);
  ASSERT_EQ(call->request.choices.size(), 3u);
  auto orange = server.tokenizer().Encode(" orange");
  ASSERT_TRUE(orange.ok());
  EXPECT_EQ(call->request.choices[1], *orange);
  EXPECT_EQ(response.choice_scores(1).tokens(), orange->size());
}

TEST(ServiceModelInfo, DescribesTheModelLimitsAndDefaults) {
  TestServer server;
  auto stub = server.Stub();
  grpc::ClientContext context;
  v1::ModelInfo info;
  ASSERT_TRUE(stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.model_dir(), "/models/test");
  EXPECT_EQ(info.llm_backbone(), "opt h=64 layers=2 vocab=50272");
  EXPECT_EQ(info.adapter_layout(), "lmeye");
  EXPECT_EQ(info.dtype(), "fp32");
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_EQ(info.workers(), 2u);
  EXPECT_EQ(info.limits().max_image_bytes(), 1024u);
  EXPECT_EQ(info.limits().max_new_tokens(), 256u);
  EXPECT_EQ(info.limits().max_prompt_tokens(), 2048u);
  EXPECT_EQ(info.defaults().max_new_tokens(), 32u);
  EXPECT_EQ(info.defaults().num_beams(), 1u);
  EXPECT_THAT(std::vector<std::string>(info.templates().begin(), info.templates().end()),
              ::testing::Contains("vqa_short"));
}

// --- Bad input: INVALID_ARGUMENT naming the field, nothing submitted. ---

struct BadCase {
  std::string name;
  std::function<void(v1::ChatRequest*)> chat;
  std::function<void(v1::AnswerVQARequest*)> vqa;
  std::function<void(v1::DescribeRequest*)> describe;
  std::string field;
};

std::vector<BadCase> BadCases() {
  using C = v1::ChatRequest*;
  using V = v1::AnswerVQARequest*;
  using D = v1::DescribeRequest*;
  return {
      {"temperature",
       [](C r) { r->mutable_params()->set_temperature(-1); },
       {},
       {},
       "params.temperature"},
      {"temperature_nan",
       [](C r) { r->mutable_params()->set_temperature(NAN); },
       {},
       {},
       "params.temperature"},
      {"top_p_zero", [](C r) { r->mutable_params()->set_top_p(0); }, {}, {}, "params.top_p"},
      {"top_p_big", [](C r) { r->mutable_params()->set_top_p(1.5f); }, {}, {}, "params.top_p"},
      {"repetition_penalty",
       [](C r) { r->mutable_params()->set_repetition_penalty(0); },
       {},
       {},
       "params.repetition_penalty"},
      {"max_new_tokens_zero",
       [](C r) { r->mutable_params()->set_max_new_tokens(0); },
       {},
       {},
       "params.max_new_tokens"},
      {"max_new_tokens_over",
       [](C r) { r->mutable_params()->set_max_new_tokens(257); },
       {},
       {},
       "params.max_new_tokens"},
      {"num_beams_zero",
       [](C r) { r->mutable_params()->set_num_beams(0); },
       {},
       {},
       "params.num_beams"},
      {"num_beams_over",
       [](C r) { r->mutable_params()->set_num_beams(17); },
       {},
       {},
       "params.num_beams"},
      {"beams_with_sampling",
       [](C r) {
         r->mutable_params()->set_num_beams(3);
         r->mutable_params()->set_temperature(0.5f);
       },
       {},
       {},
       "params.num_beams"},
      {"length_penalty",
       [](C r) { r->mutable_params()->set_length_penalty(INFINITY); },
       {},
       {},
       "params.length_penalty"},
      {"stop_empty", [](C r) { r->mutable_params()->add_stop(""); }, {}, {}, "params.stop[0]"},
      {"messages_empty", [](C r) { r->clear_messages(); }, {}, {}, "messages"},
      {"role_unknown",
       [](C r) { r->mutable_messages(0)->set_role("robot"); },
       {},
       {},
       "messages[0].role"},
      {"ends_with_assistant",
       [](C r) {
         v1::Message* m = r->add_messages();
         m->set_role("assistant");
         m->set_text("hi");
       },
       {},
       {},
       "messages[1].role"},
      {"text_empty", [](C r) { r->mutable_messages(0)->set_text(""); }, {}, {}, "messages[0].text"},
      {"chat_image_too_big", [](C r) { r->set_image(std::string(1025, 'x')); }, {}, {}, "image"},
      {"vqa_question_empty", {}, [](V r) { r->set_question("  "); }, {}, "question"},
      {"vqa_no_image", {}, [](V r) { r->clear_image(); }, {}, "image"},
      {"vqa_image_too_big", {}, [](V r) { r->set_image(std::string(1025, 'x')); }, {}, "image"},
      {"vqa_style", {}, [](V r) { r->set_style(static_cast<v1::AnswerStyle>(7)); }, {}, "style"},
      {"vqa_choice_empty",
       {},
       [](V r) {
         r->add_choices("yes");
         r->add_choices("");
       },
       {},
       "choices[1]"},
      {"vqa_params", {}, [](V r) { r->mutable_params()->set_top_p(-1); }, {}, "params.top_p"},
      {"describe_no_image", {}, {}, [](D r) { r->clear_image(); }, "image"},
      {"describe_params",
       {},
       {},
       [](D r) { r->mutable_params()->set_temperature(-2); },
       "params.temperature"},
  };
}

TEST(ServiceValidation, EveryBadFieldIsInvalidArgumentNamingIt) {
  TestServer server;
  auto stub = server.Stub();
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    grpc::ClientContext context;
    grpc::Status status;
    if (c.chat) {
      v1::ChatRequest request = SimpleChat();
      c.chat(&request);
      status = RunChat(*stub, request, &context).status;
    } else if (c.vqa) {
      v1::AnswerVQARequest request = SimpleVqa();
      c.vqa(&request);
      v1::AnswerVQAResponse response;
      status = stub->AnswerVQA(&context, request, &response);
    } else {
      v1::DescribeRequest request = SimpleDescribe();
      c.describe(&request);
      v1::DescribeResponse response;
      status = stub->Describe(&context, request, &response);
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), ::testing::StartsWith(c.field));
  }
  EXPECT_EQ(server.backend().n_calls(), 0u);
  // The stream variant of Describe rejects the same way.
  v1::DescribeRequest request;
  grpc::ClientContext context;
  auto reader = stub->DescribeStream(&context, request);
  StreamOutcome out = ReadStream(reader.get());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(out.n_messages, 0);
}

// The unknown role is quoted (32 bytes at most) in whole characters: a client decodes the status
// message as UTF-8, and a cut through "é" would not be.
TEST(ServiceValidation, AnUnknownRoleIsQuotedInWholeCharacters) {
  TestServer server;
  auto stub = server.Stub();
  v1::ChatRequest request = SimpleChat();
  request.mutable_messages(0)->set_role(std::string(31, 'a') + "\xC3\xA9tre");  // "aa...aétre"
  grpc::ClientContext context;
  const grpc::Status status = RunChat(*stub, request, &context).status;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("messages[0].role: unknown role \"" + std::string(31, 'a') + "\" ("));
}

TEST(ServiceValidation, PromptOverTheTokenLimitIsResourceExhaustedNamingTheField) {
  TestServer server;
  auto stub = server.Stub();
  std::string long_text;
  for (int i = 0; i < 3000; ++i) long_text += " word";
  v1::ChatRequest chat = SimpleChat();
  chat.mutable_messages(0)->set_text(long_text);
  StreamOutcome out = RunChat(*stub, chat);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(out.status.error_message(), ::testing::StartsWith("messages"));
  EXPECT_THAT(out.status.error_message(), HasSubstr("max_prompt_tokens"));

  v1::AnswerVQARequest vqa = SimpleVqa();
  vqa.set_question(long_text);
  grpc::ClientContext context;
  v1::AnswerVQAResponse response;
  grpc::Status status = stub->AnswerVQA(&context, vqa, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::StartsWith("question"));

  // Too many choices is a bad argument, not a size problem.
  vqa = SimpleVqa();
  for (int i = 0; i < 40; ++i) vqa.add_choices("yes");
  grpc::ClientContext context2;
  status = stub->AnswerVQA(&context2, vqa, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::StartsWith("choices"));
  EXPECT_EQ(server.backend().n_calls(), 0u);
}

// --- Errors from the backend map through. ---

TEST(ServiceErrors, QueueFullIsResourceExhausted) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.submit_status = absl::ResourceExhaustedError("queue full (64 waiting)");
  server.backend().set_script(script);
  auto stub = server.Stub();
  StreamOutcome out = RunChat(*stub, SimpleChat());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(out.status.error_message(), "queue full (64 waiting)");
  EXPECT_EQ(out.n_messages, 0);

  grpc::ClientContext context;
  v1::DescribeResponse response;
  grpc::Status status = stub->Describe(&context, SimpleDescribe(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(ServiceErrors, WorkerErrorsMapThrough) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.done_status = absl::InvalidArgumentError("image: not a JPEG, PNG, WebP or BMP");
  server.backend().set_script(script);
  auto stub = server.Stub();
  StreamOutcome out = RunChat(*stub, SimpleChat());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(out.status.error_message(), "image: not a JPEG, PNG, WebP or BMP");
  EXPECT_TRUE(out.finals.empty());

  script.done_status = absl::UnavailableError("draining");
  server.backend().set_script(script);
  grpc::ClientContext context;
  v1::AnswerVQAResponse response;
  grpc::Status status = stub->AnswerVQA(&context, SimpleVqa(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

// --- Deadlines and cancellation. ---

TEST(ServiceDeadline, PassesTheClientDeadlineThrough) {
  TestServer server;
  auto stub = server.Stub();
  grpc::ClientContext context;
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
  context.set_deadline(deadline);
  ASSERT_TRUE(RunChat(*stub, SimpleChat(), &context).status.ok());
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  // The server sees the deadline as sent over the wire (a relative timeout), so allow slack.
  EXPECT_LT(absl::AbsDuration(call->request.deadline - absl::FromChrono(deadline)),
            absl::Seconds(1));
}

TEST(ServiceDeadline, ExpiredDeadlineEndsWithDeadlineExceeded) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.hold = true;  // the worker never answers in time
  server.backend().set_script(script);
  auto stub = server.Stub();
  for (bool unary : {false, true}) {
    SCOPED_TRACE(unary ? "unary" : "stream");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    const absl::Time start = absl::Now();
    grpc::Status status;
    if (unary) {
      v1::DescribeResponse response;
      status = stub->Describe(&context, SimpleDescribe(), &response);
    } else {
      status = RunChat(*stub, SimpleChat(), &context).status;
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
    auto call = server.backend().WaitForCall(unary ? 1 : 0);
    ASSERT_NE(call, nullptr);
    // The server saw the deadline pass and told the worker to drop the request.
    for (int i = 0; i < 500 && !call->cancelled.load(); ++i) absl::SleepFor(absl::Milliseconds(10));
    EXPECT_TRUE(call->cancelled.load());
  }
  // The worker answers late: nothing crashes, and the metrics saw DEADLINE_EXCEEDED.
  server.backend().DropCalls();
  ASSERT_TRUE(server.metrics().WaitFor(2));
  for (const auto& entry : server.metrics().entries()) {
    EXPECT_EQ(entry.record.code, absl::StatusCode::kDeadlineExceeded) << entry.rpc;
  }
}

TEST(ServiceCancel, ClientCancelMidStreamSetsTheFlagAndLateDoneIsHarmless) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.hold_after_deltas = true;  // stream the pieces, then wait before OnDone
  server.backend().set_script(script);
  auto stub = server.Stub();
  grpc::ClientContext context;
  auto reader = stub->Chat(&context, SimpleChat());
  v1::ChatResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.delta(), "Hello");
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  std::weak_ptr<ResponseSink> sink = call->sink;
  context.TryCancel();
  v1::ChatResponse rest;
  while (reader->Read(&rest)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 500 && !call->cancelled.load(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(call->cancelled.load());

  // The worker finishes after the RPC ended; then it lets go and nothing is left behind.
  call.reset();
  server.backend().DropCalls();
  for (int i = 0; i < 500 && !sink.expired(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(sink.expired());

  // The server still serves.
  script.hold_after_deltas = false;
  server.backend().set_script(script);
  EXPECT_TRUE(RunChat(*stub, SimpleChat()).status.ok());
}

TEST(ServiceCancel, WorkerThatIgnoresTheCancelWritesIntoNothing) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.late = true;  // text and OnDone(OK) only after the RPC has ended
  server.backend().set_script(script);
  auto stub = server.Stub();
  for (bool unary : {false, true}) {
    SCOPED_TRACE(unary ? "unary" : "stream");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    grpc::Status status;
    if (unary) {
      v1::DescribeResponse response;
      status = stub->Describe(&context, SimpleDescribe(), &response);
    } else {
      status = RunChat(*stub, SimpleChat(), &context).status;
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  auto calls = server.backend().calls();
  ASSERT_EQ(calls.size(), 2u);
  std::vector<std::weak_ptr<ResponseSink>> sinks;
  for (const auto& call : calls) {
    for (int i = 0; i < 500 && !call->cancelled.load(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_TRUE(call->cancelled.load());
    sinks.push_back(call->sink);
  }
  calls.clear();
  server.backend().DropCalls();  // OnText + OnDone(OK) into ended RPCs
  for (const auto& sink : sinks) {
    for (int i = 0; i < 500 && !sink.expired(); ++i) absl::SleepFor(absl::Milliseconds(10));
    EXPECT_TRUE(sink.expired());
  }
  script.late = false;
  server.backend().set_script(script);
  EXPECT_TRUE(RunChat(*stub, SimpleChat()).status.ok());
}

TEST(ServiceCancel, UnaryCancelEndsPromptly) {
  TestServer server;
  FakeBackend::Script script = server.backend().script();
  script.hold = true;
  server.backend().set_script(script);
  auto stub = server.Stub();
  grpc::ClientContext context;
  grpc::Status status;
  std::thread client([&] {
    v1::AnswerVQAResponse response;
    status = stub->AnswerVQA(&context, SimpleVqa(), &response);
  });
  auto call = server.backend().WaitForCall();
  ASSERT_NE(call, nullptr);
  context.TryCancel();
  client.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 500 && !call->cancelled.load(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(call->cancelled.load());
  std::weak_ptr<ResponseSink> sink = call->sink;
  call.reset();
  server.backend().DropCalls();  // OnDone(CANCELLED) into a finished RPC
  for (int i = 0; i < 500 && !sink.expired(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(sink.expired());
}

// A call whose request never arrives (its client cancelled before sending it, or, as here, ended
// its side without one) reaches the handler with no message: it is a cancel, not a bad request,
// and must not be counted as INVALID_ARGUMENT (the soak test's cancels hit this).
TEST(ServiceCancel, CallWithoutARequestMessageEndsCancelledNotInvalidArgument) {
  TestServer server;
  auto channel = server.Channel();
  for (const char* method : {"/lmeye.v1.Lmeye/Chat", "/lmeye.v1.Lmeye/AnswerVQA"}) {
    SCOPED_TRACE(method);
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::CompletionQueue cq;
    void* tag = nullptr;
    bool ok = false;
    auto call = stub.PrepareCall(&context, method, &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(2));  // no Write: the request never comes
    cq.Next(&tag, &ok);
    grpc::ByteBuffer reply;
    call->Read(&reply, reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
  }
  EXPECT_EQ(server.backend().n_calls(), 0u);
  ASSERT_TRUE(server.metrics().WaitFor(2));
  for (const auto& entry : server.metrics().entries()) {
    EXPECT_EQ(entry.record.code, absl::StatusCode::kCancelled) << entry.rpc;
  }
}

// --- Metrics. ---

TEST(ServiceMetrics, ReportsEveryRequestWithCodeAndTokens) {
  TestServer server;
  auto stub = server.Stub();
  ASSERT_TRUE(RunChat(*stub, SimpleChat()).status.ok());
  v1::ChatRequest bad = SimpleChat();
  bad.clear_messages();
  EXPECT_FALSE(RunChat(*stub, bad).status.ok());
  ASSERT_TRUE(server.metrics().WaitFor(2));
  auto entries = server.metrics().entries();
  ASSERT_EQ(entries.size(), 2u);
  const RequestRecord& ok = entries[0].record;
  EXPECT_EQ(entries[0].rpc, "Chat");
  EXPECT_EQ(ok.code, absl::StatusCode::kOk);
  EXPECT_EQ(ok.prompt_tokens, 12);
  EXPECT_EQ(ok.generated_tokens, 4);
  EXPECT_EQ(ok.cached_prompt_tokens, 3);
  EXPECT_DOUBLE_EQ(ok.queue_seconds, 0.01);
  EXPECT_GT(ok.time_to_first_token_seconds, 0.0);
  EXPECT_EQ(ok.inter_token_seconds.size(), 3u);  // 4 pieces, 3 gaps
  EXPECT_GE(ok.e2e_seconds, ok.time_to_first_token_seconds);
  EXPECT_EQ(entries[1].record.code, absl::StatusCode::kInvalidArgument);
  EXPECT_LT(entries[1].record.queue_seconds, 0.0);
}

// --- Conversion without a server. ---

TEST(ServiceConvert, FinishReasons) {
  EXPECT_EQ(ToProtoFinishReason(FinishReason::kStop), v1::FINISH_REASON_STOP);
  EXPECT_EQ(ToProtoFinishReason(FinishReason::kEos), v1::FINISH_REASON_EOS);
  EXPECT_EQ(ToProtoFinishReason(FinishReason::kLength), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(ToProtoFinishReason(FinishReason::kNone), v1::FINISH_REASON_UNSPECIFIED);
}

TEST(ServiceConvert, OptionsAreValidated) {
  ServiceOptions options = testing::TestServiceOptions();
  options.defaults.sampling.max_new_tokens = 1000;  // over limits.max_new_tokens
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = testing::TestServiceOptions();
  options.defaults.sampling.top_p = 2;
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("defaults.top_p"));
  // Each default beam count within the limit, named when it is not.
  options = testing::TestServiceOptions();
  options.limits.max_num_beams = 6;
  options.defaults.vqa_num_beams = 7;
  EXPECT_THAT(std::string(options.Validate().message()),
              HasSubstr("defaults.vqa_num_beams (7) is over limits.max_num_beams (6)"));
  options.defaults.vqa_num_beams = 6;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  EXPECT_TRUE(testing::TestServiceOptions().Validate().ok());
}

}  // namespace
}  // namespace lmeye
