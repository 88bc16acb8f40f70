// Fuzz target for the gRPC edge's proto -> native request conversion (server/edge/proto_convert.h):
// the step after request_parser's bytes -> proto. The input is not a message: field values are
// drawn from it (FuzzReader) to build a well-formed ChatRequest, DescribeRequest or
// AnswerVQARequest (params, image, messages, question, style, choices), which then takes the
// edge's path: serialized, parsed back with ParseRequest, converted with ChatToInference /
// DescribeToInference / AnswerVqaToInference under one of several server setups (GPT-2 BPE or
// SentencePiece tokenizer; this project's prompts or the released v0 / v0.1 marked prompts;
// small or default limits and defaults).
//
// Oracles: a conversion either succeeds with the invariants the scheduler relies on (parameters
// valid and within the limits, beam search only greedy, the image, stop strings and seed carried
// over, the prompt within max_prompt_tokens with every id in the vocabulary, choices only for
// AnswerVQA with choices) or fails with INVALID_ARGUMENT (RESOURCE_EXHAUSTED for a prompt over
// max_prompt_tokens) whose message starts with the field it blames. Text that is not UTF-8
// (drawn now and then) skips the serialization, which would log, and goes to the conversion
// directly: it must be refused naming a field, never crash. Seeds: corpus/request_convert.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "lmeye/v1/lmeye.pb.h"
#include "model/ipn/marked_prompt.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tokenizer/utf8.h"
#include "server/edge/proto_convert.h"
#include "server/edge/request_parser.h"
#include "server/edge/service_options.h"
#include "tests/common/test_data.h"
#include "tests/fuzz/fuzz_input.h"

namespace lmeye {
namespace {

using fuzz::FuzzReader;

#define FUZZ_CHECK(cond)                                                                      \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "request_convert: check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

// --- Server setups: what the service was started with ---

enum class Layout { kOwn, kLingcloudV0, kLingcloudV01 };

const Tokenizer& LoadedTokenizer(bool sentencepiece) {
  static const std::unique_ptr<Tokenizer> tokenizers[2] = {
      [] {
        auto t = LoadTokenizer(testing::TestData("tokenizers/gpt2"));
        if (!t.ok()) std::fprintf(stderr, "%s\n", t.status().ToString().c_str()), std::abort();
        return *std::move(t);
      }(),
      [] {
        auto t = LoadTokenizer(testing::TestData("tokenizers/llama_spm"));
        if (!t.ok()) std::fprintf(stderr, "%s\n", t.status().ToString().c_str()), std::abort();
        return *std::move(t);
      }()};
  return *tokenizers[sentencepiece ? 1 : 0];
}

// PromptBuilders are cheap to keep and not to make (templates validated, a probe encoded): one
// per (tokenizer, layout, limits) combination, made on first use.
const PromptBuilder& Builder(bool sentencepiece, Layout layout, int limits_variant) {
  static std::optional<PromptBuilder> builders[2][3][3];
  std::optional<PromptBuilder>& slot =
      builders[sentencepiece][static_cast<int>(layout)][limits_variant];
  if (slot.has_value()) return *slot;
  const Tokenizer& tokenizer = LoadedTokenizer(sentencepiece);
  PromptLimits limits;
  static constexpr int kMaxPromptTokens[3] = {2048, 40, 3};
  static constexpr int kMaxChoices[3] = {32, 4, 1};
  limits.max_prompt_tokens = kMaxPromptTokens[limits_variant];
  limits.max_choices = kMaxChoices[limits_variant];
  PromptTemplates templates;
  std::optional<MarkedPromptOptions> marked;
  if (layout == Layout::kLingcloudV0) {
    templates = LingcloudV0PromptTemplates(5);
    marked = MarkedPromptOptions{};
    marked->add_bos = tokenizer.bos_id() >= 0;
  } else if (layout == Layout::kLingcloudV01) {
    templates = LingcloudV01PromptTemplates(5);
    marked = MarkedPromptOptions{};
    marked->image_marker = false;
    marked->strip_around_markers = false;
    marked->query_token_id = 7;
    marked->add_eos = tokenizer.eos_id() >= 0;
  }
  auto builder = PromptBuilder::Create(&tokenizer, templates, limits, marked);
  if (!builder.ok()) {
    std::fprintf(stderr, "request_convert: %s\n", builder.status().ToString().c_str());
    std::abort();
  }
  slot.emplace(*std::move(builder));
  return *slot;
}

ServiceOptions Options(FuzzReader& in) {
  ServiceOptions options;
  static constexpr uint64_t kImageBytes[4] = {20 << 20, 64, 1, 4096};
  options.limits.max_image_bytes = kImageBytes[in.Byte() % 4];
  static constexpr int kMaxNewTokens[4] = {1024, 256, 8, 1};
  options.limits.max_new_tokens = kMaxNewTokens[in.Byte() % 4];
  static constexpr int kMaxBeams[3] = {16, 5, 1};
  options.limits.max_num_beams = kMaxBeams[in.Byte() % 3];
  const uint8_t defaults = in.Byte();
  GenerationDefaults& d = options.defaults;
  d.sampling.max_new_tokens = std::min(d.sampling.max_new_tokens, options.limits.max_new_tokens);
  d.describe_num_beams = std::min(d.describe_num_beams, options.limits.max_num_beams);
  if (defaults & 1) {
    d.sampling.temperature = 0.7;
    d.sampling.top_p = 0.9;
    d.sampling.top_k = 40;
    d.sampling.repetition_penalty = 1.1;
  }
  // The config's range for it (config.cc): 0 (num_beams) or [1, limits.max_num_beams].
  if (defaults & 2) d.vqa_num_beams = std::min(5, options.limits.max_num_beams);
  if (defaults & 4) d.interaction = false;
  if (defaults & 8) d.length_penalty = -0.5;
  // Only what a server would start with: ServiceOptions::Validate runs at start-up.
  FUZZ_CHECK(options.Validate().ok());
  return options;
}

// --- Field values ---

// Pieces that mean something to the templates, markers, tokenizers and stop matching.
// clang-format off
constexpr const char* kPieces[] = {
    "<img-d>", "<img>", "<img-q>", "</s>", "<s>", "{q}", "{a}", "{{", "}}", "\n", " ", "  ",
    "Human:", "Assistant:", "Question:", "Answer:", "\xE2\x96\x81", "\xF0\x9F\x98\x80", "\t",
    "What color is the square?", "yes", "\xC3\xA9", "<|endoftext|>", "\r\n", "."};
// clang-format on

// Text from the input: up to 4 parts, each drawn bytes or a known piece. Invalid UTF-8 is
// replaced by '?' unless `raw` (then *valid is cleared where it stays invalid).
std::string Text(FuzzReader& in, size_t max_size, bool raw, bool* valid) {
  std::string out;
  const int n_parts = in.Byte() % 5;
  for (int i = 0; i < n_parts; ++i) {
    const uint8_t kind = in.Byte();
    if (kind & 1) {
      out += kPieces[(kind >> 1) % (sizeof(kPieces) / sizeof(kPieces[0]))];
    } else {
      out += in.String(max_size);
    }
  }
  std::string fixed;
  bool ok = true;
  for (size_t i = 0; i < out.size();) {
    const Utf8Sequence seq = ScanUtf8(absl::string_view(out).substr(i));
    const size_t n = std::max<size_t>(seq.length, 1);
    if (seq.kind == Utf8Sequence::kComplete) {
      fixed.append(out, i, n);
    } else {
      ok = false;
      fixed += raw ? out.substr(i, n) : std::string("?");
    }
    i += n;
  }
  if (raw && !ok) *valid = false;
  return fixed;
}

void FillParams(FuzzReader& in, bool raw, bool* valid, v1::GenerationParams* p) {
  const uint16_t set = static_cast<uint16_t>(in.Byte()) << 8 | in.Byte();
  static constexpr uint32_t kCounts[] = {
      0,          1,          2,         5, 16, 17, 255, 256, 1024, 1025, 1u << 30, (1u << 30) + 1,
      0x7fffffff, 0x80000000, 0xffffffff};
  static constexpr float kReals[] = {0.0f, 1.0f,       0.7f,  -0.0f,  -1.0f,   0.5f, 1e-45f,
                                     2.0f, 1.0000001f, 1e30f, -1e30f, 3.4e38f, 1e-3f};
  if (set & 1) p->set_max_new_tokens(in.U32From(kCounts));
  if (set & 2) p->set_temperature(in.FloatFrom(kReals));
  if (set & 4) p->set_top_k(in.U32From(kCounts));
  if (set & 8) p->set_top_p(in.FloatFrom(kReals));
  if (set & 16) p->set_repetition_penalty(in.FloatFrom(kReals));
  if (set & 32) p->set_seed(in.U64());
  if (set & 64) {
    const int n = in.Byte() % 20;
    for (int i = 0; i < n; ++i) *p->add_stop() = Text(in, 300, raw, valid);
  }
  if (set & 128) p->set_ignore_eos(true);
  if (set & 256) p->set_num_beams(in.U32From(kCounts));
  if (set & 512) p->set_length_penalty(in.FloatFrom(kReals));
  if (set & 1024) p->set_interaction(in.Bool());
}

std::string Image(FuzzReader& in) {
  static constexpr size_t kSizes[] = {0, 1, 64, 65, 100};
  const size_t n = kSizes[in.Byte() % 5];
  return std::string(n, '\xff');
}

// --- Oracles ---

// The request fields (and the one config field, a Describe template that cannot fit) an error
// may blame.
bool NamesField(absl::string_view message) {
  for (absl::string_view field :
       {"params.", "image:", "messages", "question:", "choices", "style:", "prompts.describe:"}) {
    if (absl::StartsWith(message, field)) return true;
  }
  return false;
}

bool IsUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const Utf8Sequence seq = ScanUtf8(text.substr(i));
    if (seq.kind != Utf8Sequence::kComplete) return false;
    i += seq.length;
  }
  return true;
}

// `valid_utf8`: the request's text was; then so must the message be, which may quote it (a
// client decodes the status message as UTF-8).
void CheckRefusal(const absl::Status& status, bool valid_utf8) {
  FUZZ_CHECK(!status.ok());
  if (valid_utf8 && !IsUtf8(status.message())) {
    std::fprintf(stderr, "request_convert: the message is not UTF-8: %s\n",
                 status.ToString().c_str());
    std::abort();
  }
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    FUZZ_CHECK(absl::StrContains(status.message(), "max_prompt_tokens"));
  } else {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  }
  if (!NamesField(status.message())) {
    std::fprintf(stderr, "request_convert: error names no field: %s\n", status.ToString().c_str());
    std::abort();
  }
}

void CheckIds(const std::vector<int>& ids, int vocab_size, bool slots_allowed) {
  for (int id : ids) {
    FUZZ_CHECK((id >= 0 && id < vocab_size) || (slots_allowed && id == kSlotPosition));
  }
}

void CheckAccepted(const InferenceRequest& out, absl::string_view rpc, const std::string& image,
                   const v1::GenerationParams& params, const ServiceOptions& options,
                   const PromptBuilder& builder, int vocab_size) {
  FUZZ_CHECK(out.rpc == rpc);
  FUZZ_CHECK(out.image == image);
  FUZZ_CHECK(out.image.size() <= options.limits.max_image_bytes);
  const SamplingParams& s = out.sampling;
  FUZZ_CHECK(s.Validate().ok());
  FUZZ_CHECK(s.max_new_tokens >= 1 && s.max_new_tokens <= options.limits.max_new_tokens);
  FUZZ_CHECK(s.top_k >= 0);
  FUZZ_CHECK(std::isfinite(s.temperature) && s.temperature >= 0);
  FUZZ_CHECK(s.eos_token_ids.empty());  // the worker fills them in
  FUZZ_CHECK(s.ignore_eos == params.ignore_eos());
  FUZZ_CHECK(s.seed.has_value() == params.has_seed());
  if (params.has_seed()) FUZZ_CHECK(*s.seed == params.seed());
  FUZZ_CHECK(static_cast<int>(s.stop.size()) == params.stop_size());
  for (int i = 0; i < params.stop_size(); ++i) FUZZ_CHECK(s.stop[i] == params.stop(i));
  if (params.has_max_new_tokens()) {
    FUZZ_CHECK(static_cast<uint32_t>(s.max_new_tokens) == params.max_new_tokens());
  }
  FUZZ_CHECK(out.num_beams >= 1 && out.num_beams <= options.limits.max_num_beams);
  FUZZ_CHECK(out.num_beams == 1 || s.greedy());
  if (params.has_num_beams())
    FUZZ_CHECK(static_cast<uint32_t>(out.num_beams) == params.num_beams());
  FUZZ_CHECK(std::isfinite(out.length_penalty));
  FUZZ_CHECK(out.interaction ==
             (params.has_interaction() ? params.interaction() : options.defaults.interaction));

  const IpnPrompt& p = out.prompt;
  const bool marked = !p.tail.empty();
  CheckIds(p.prefix, vocab_size, false);
  CheckIds(p.text, vocab_size, false);
  CheckIds(p.tail, vocab_size, true);
  if (!marked) FUZZ_CHECK(!p.text.empty() || !p.prefix.empty());
  size_t longest_choice = 0;
  for (const std::vector<int>& choice : out.choices) {
    FUZZ_CHECK(!choice.empty());
    CheckIds(choice, vocab_size, false);
    longest_choice = std::max(longest_choice, choice.size());
  }
  FUZZ_CHECK(p.n_positions() + static_cast<int>(longest_choice) <=
             builder.limits().max_prompt_tokens);
}

// The edge's path for one request: bytes -> ParseRequest -> conversion (service.cc), or, for
// text that is not UTF-8, the conversion alone.
template <typename Request, typename Convert>
void RunEdge(const Request& request, bool valid_utf8, Convert convert) {
  if (!valid_utf8) {
    absl::StatusOr<InferenceRequest> out = convert(request);
    if (!out.ok()) CheckRefusal(out.status(), /*valid_utf8=*/false);
    return;
  }
  const std::string bytes = request.SerializeAsString();
  Request parsed;
  const absl::Status status = ParseRequest(bytes, &parsed);
  if (!status.ok()) {
    std::fprintf(stderr, "request_convert: a well-formed request was refused: %s\n",
                 status.ToString().c_str());
    std::abort();
  }
  FUZZ_CHECK(parsed.SerializeAsString() == bytes);
  absl::StatusOr<InferenceRequest> out = convert(parsed);
  if (!out.ok()) CheckRefusal(out.status(), /*valid_utf8=*/true);
}

}  // namespace
}  // namespace lmeye

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lmeye;  // NOLINT: one function, many names
  FuzzReader in(fuzz::AsString(data, size));
  const uint8_t setup = in.Byte();
  const bool sentencepiece = setup & 1;
  const Layout layout = static_cast<Layout>((setup >> 1) % 3);
  const int limits_variant = (setup >> 3) % 3;
  const int rpc = (setup >> 5) % 4;    // Chat, Describe, DescribeStream, AnswerVQA
  const bool raw = in.Byte() == 0xff;  // text may stay invalid UTF-8
  const PromptBuilder& builder = Builder(sentencepiece, layout, limits_variant);
  const int vocab_size = LoadedTokenizer(sentencepiece).vocab_size();
  const ServiceOptions options = Options(in);
  bool valid = true;

  if (rpc == 0) {
    v1::ChatRequest request;
    *request.mutable_image() = Image(in);
    FillParams(in, raw, &valid, request.mutable_params());
    const int n_messages = in.Byte() % 8;
    static constexpr const char* kRoles[] = {"human", "assistant", "user",   "gpt",
                                             "HUMAN", "Gpt",       "system", ""};
    for (int i = 0; i < n_messages; ++i) {
      v1::Message* m = request.add_messages();
      const uint8_t role = in.Byte();
      // Mostly the alternation a conversation has; sometimes any role, or any text as a role.
      if (role & 0x80) {
        m->set_role(Text(in, 40, raw, &valid));
      } else {
        m->set_role(kRoles[(role & 0x40) ? role % 8 : (i % 2) + ((role >> 1) & 2)]);
      }
      m->set_text(Text(in, 400, raw, &valid));
    }
    RunEdge(request, valid, [&](const v1::ChatRequest& r) {
      absl::StatusOr<InferenceRequest> out = ChatToInference(r, builder, options);
      if (out.ok()) {
        CheckAccepted(*out, "Chat", r.image(), r.params(), options, builder, vocab_size);
        FUZZ_CHECK(out->kind == RequestKind::kGenerate && out->choices.empty());
      }
      return out;
    });
  } else if (rpc == 1 || rpc == 2) {
    const char* name = rpc == 1 ? "Describe" : "DescribeStream";
    v1::DescribeRequest request;
    *request.mutable_image() = Image(in);
    FillParams(in, raw, &valid, request.mutable_params());
    RunEdge(request, valid, [&](const v1::DescribeRequest& r) {
      absl::StatusOr<InferenceRequest> out = DescribeToInference(r, name, builder, options);
      if (out.ok()) {
        CheckAccepted(*out, name, r.image(), r.params(), options, builder, vocab_size);
        FUZZ_CHECK(!out->image.empty());
        FUZZ_CHECK(out->kind == RequestKind::kGenerate && out->choices.empty());
      }
      return out;
    });
  } else {
    v1::AnswerVQARequest request;
    *request.mutable_image() = Image(in);
    FillParams(in, raw, &valid, request.mutable_params());
    request.set_question(Text(in, 400, raw, &valid));
    const uint8_t style = in.Byte();
    request.set_style(static_cast<v1::AnswerStyle>(style < 0xf0 ? style % 3 : style));
    const int n_choices = in.Byte() % 40;
    for (int i = 0; i < n_choices; ++i) *request.add_choices() = Text(in, 60, raw, &valid);
    RunEdge(request, valid, [&](const v1::AnswerVQARequest& r) {
      absl::StatusOr<InferenceRequest> out = AnswerVqaToInference(r, builder, options);
      if (out.ok()) {
        CheckAccepted(*out, "AnswerVQA", r.image(), r.params(), options, builder, vocab_size);
        FUZZ_CHECK(!out->image.empty());
        if (r.choices_size() == 0) {
          FUZZ_CHECK(out->kind == RequestKind::kGenerate && out->choices.empty());
        } else {
          FUZZ_CHECK(out->kind == RequestKind::kScoreChoices);
          FUZZ_CHECK(static_cast<int>(out->choices.size()) == r.choices_size());
          FUZZ_CHECK(r.choices_size() <= builder.limits().max_choices);
        }
      }
      return out;
    });
  }
  return 0;
}
