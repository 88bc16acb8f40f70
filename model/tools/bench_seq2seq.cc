#include "model/tools/bench_seq2seq.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/device.h"
#include "model/common/status_macros.h"
#include "model/ipn/engine.h"
#include "model/ipn/lingcloud_v01_model.h"

namespace lmeye {
namespace {

using Clock = std::chrono::steady_clock;
using bench_internal::MeasureBandwidth;
using bench_internal::TimeMedian;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// T5 weights a decode step reads: the decoder's (its token table aside: one row of it is read)
// and lm_head (`shared` itself when tied).
double DecoderWeightBytes(const T5Model& t5) {
  double n = 0;
  for (const auto& [name, t] : t5.NamedTensors()) {
    const bool head = name == "lm_head.weight";
    const bool decoder = absl::StartsWith(name, "decoder.") && !absl::StrContains(name, "embed");
    if (head || decoder) n += static_cast<double>(t.numel());
  }
  if (t5.config().tie_word_embeddings) {
    n += static_cast<double>(t5.config().vocab_size) * t5.config().d_model;
  }
  return n * static_cast<double>(at::elementSize(t5.dtype()));
}

}  // namespace

absl::StatusOr<BenchReport> RunSeq2SeqBench(const BenchOptions& options, LmeyeModel& model) {
  torch::NoGradGuard no_grad;
  const LingcloudV01Model& v01 = *model.lingcloud_v01();
  const T5Config& t5 = v01.t5().config();
  const LingcloudV01Config& ids = model.adapter_config().lingcloud_v0_1;
  BenchReport report;
  report.seq2seq = true;
  report.model_dir = options.model_dir;
  report.dtype = DtypeName(options.dtype);
  report.device = options.device.str();
  report.threads = at::get_num_threads();
  report.prompt_tokens = options.prompt_tokens;
  report.prefill_tokens = options.prefill_tokens;

  // A prompt: X, <img-q>, the <img-d>s, </s> (the release's marked prompt), after the queries.
  const int n_imgd = model.n_slot_positions();
  const int64_t queries = v01.qformer().n_query_tokens();
  auto rows_of = [&](int n_text) { return static_cast<int>(queries) + n_text + 1 + n_imgd + 1; };
  report.encoder_rows = rows_of(options.prompt_tokens);
  report.weight_bytes_per_token = DecoderWeightBytes(v01.t5());
  report.cross_kv_bytes_per_token = 2.0 * static_cast<double>(t5.n_decoder_layers) *
                                    report.encoder_rows * static_cast<double>(t5.inner_dim()) *
                                    static_cast<double>(at::elementSize(v01.t5().dtype()));
  report.bandwidth_bytes_per_s = MeasureBandwidth(options.device);
  report.roofline_tokens_per_s = report.bandwidth_bytes_per_s /
                                 (report.weight_bytes_per_token + report.cross_kv_bytes_per_token);

  int max_batch = 1;
  for (int b : options.batch_sizes) max_batch = std::max(max_batch, b);
  EngineOptions engine_options;
  engine_options.n_slots = max_batch;
  // Decoder positions and encoder rows share the capacity (seq2seq_engine.h).
  engine_options.capacity = std::max({rows_of(options.prefill_tokens), report.encoder_rows,
                                      options.decode_steps + 2, options.kv_capacity});
  LMEYE_ASSIGN_OR_RETURN(auto engine, IpnEngine::Create(&model, engine_options));

  at::manual_seed(options.seed);
  // Plain text ids: below the added <img-d>/<img-q> (and T5's few special ids).
  const int64_t top =
      std::min<int64_t>(t5.vocab_size, std::min(ids.imgd_token_id, ids.imgq_token_id));
  auto random_ids = [&](int n) {
    std::vector<int> out;
    at::Tensor t = at::randint(3, std::max<int64_t>(4, top), {n}, at::kLong);
    for (int i = 0; i < n; ++i) out.push_back(static_cast<int>(t[i].item<int64_t>()));
    return out;
  };
  const Blip2VisionConfig& vc = v01.blip2_config().vision;
  at::Tensor pixels = at::randn({1, vc.n_channels, vc.image_size, vc.image_size});
  LMEYE_ASSIGN_OR_RETURN(at::Tensor q, engine->EncodeImages(pixels));
  auto make_seq = [&](const std::vector<int>& text, bool interaction) {
    IpnSequence seq;
    seq.h_i = q[0];
    seq.text = text;
    seq.text.push_back(static_cast<int>(ids.imgq_token_id));
    seq.tail.assign(n_imgd, kSlotPosition);
    seq.tail.push_back(static_cast<int>(t5.eos_token_id));
    seq.interaction = interaction;
    return seq;
  };

  // Prefill: the first encoder pass (and the cross-attention cache) of one long IPN* prompt.
  {
    const std::vector<int> text = random_ids(options.prefill_tokens);
    LMEYE_ASSIGN_OR_RETURN(double s,
                           TimeMedian(options.device, options.repeats, [&]() -> absl::Status {
                             IpnSequence seq = make_seq(text, /*interaction=*/false);
                             absl::Status st = engine->FirstPass({&seq});
                             engine->Release(seq);
                             return st;
                           }));
    report.prefill_tokens_per_s = rows_of(options.prefill_tokens) / s;
  }

  // Time to first token by phase (IPN), then IPN*: vision, first pass, the start token.
  const std::vector<int> question = random_ids(options.prompt_tokens);
  std::vector<double> vision, first, interact, second, total;
  for (int i = 0; i <= std::max(1, options.repeats); ++i) {  // run 0 warms up
    double t[4];
    IpnSequence seq = make_seq(question, /*interaction=*/true);
    auto phase = [&](int k, const std::function<absl::Status()>& fn) -> absl::Status {
      SynchronizeDevice(options.device);
      const auto start = Clock::now();
      absl::Status st = fn();
      SynchronizeDevice(options.device);
      t[k] = std::chrono::duration<double>(Clock::now() - start).count();
      return st;
    };
    LMEYE_RETURN_IF_ERROR(phase(0, [&]() -> absl::Status {
      LMEYE_ASSIGN_OR_RETURN(at::Tensor h, engine->EncodeImages(pixels));
      seq.h_i = h[0];
      return absl::OkStatus();
    }));
    LMEYE_RETURN_IF_ERROR(phase(1, [&]() { return engine->FirstPass({&seq}); }));
    LMEYE_RETURN_IF_ERROR(phase(2, [&]() { return engine->Interact({&seq}); }));
    LMEYE_RETURN_IF_ERROR(phase(3, [&]() -> absl::Status {
      LMEYE_RETURN_IF_ERROR(engine->SecondPass({&seq}));
      seq.next_logits.argmax().item<int64_t>();
      return absl::OkStatus();
    }));
    engine->Release(seq);
    if (i == 0) continue;
    vision.push_back(t[0]);
    first.push_back(t[1]);
    interact.push_back(t[2]);
    second.push_back(t[3]);
    total.push_back(t[0] + t[1] + t[2] + t[3]);
  }
  report.ttft_vision_s = Median(vision);
  report.ttft_first_pass_s = Median(first);
  report.ttft_interact_s = Median(interact);
  report.ttft_second_pass_s = Median(second);
  report.ttft_ipn_s = Median(total);
  LMEYE_ASSIGN_OR_RETURN(report.ttft_static_s,
                         TimeMedian(options.device, options.repeats, [&]() -> absl::Status {
                           IpnSequence seq = make_seq(question, /*interaction=*/false);
                           LMEYE_ASSIGN_OR_RETURN(at::Tensor h, engine->EncodeImages(pixels));
                           seq.h_i = h[0];
                           LMEYE_RETURN_IF_ERROR(engine->FirstPass({&seq}));
                           seq.next_logits.argmax().item<int64_t>();
                           engine->Release(seq);
                           return absl::OkStatus();
                         }));

  // Decode: B IPN* sequences started (untimed), then decode_steps DecodeSteps over their slots.
  for (int batch : options.batch_sizes) {
    std::vector<double> times;
    for (int i = 0; i <= std::max(1, options.repeats); ++i) {  // run 0 warms up
      std::vector<IpnSequence> seqs;
      for (int b = 0; b < batch; ++b) {
        seqs.push_back(make_seq(random_ids(options.prompt_tokens), /*interaction=*/false));
      }
      std::vector<IpnSequence*> ptrs;
      for (IpnSequence& s : seqs) ptrs.push_back(&s);
      LMEYE_RETURN_IF_ERROR(engine->FirstPass(ptrs));
      std::vector<int> slots;
      std::vector<int64_t> tokens;
      for (IpnSequence& s : seqs) {
        slots.push_back(s.slot);
        tokens.push_back(s.next_logits.argmax().item<int64_t>());
      }
      SynchronizeDevice(options.device);
      const auto start = Clock::now();
      for (int step = 0; step < options.decode_steps; ++step) {
        LMEYE_ASSIGN_OR_RETURN(at::Tensor logits, engine->DecodeStep(slots, tokens));
        at::Tensor next = logits.argmax(1).cpu();  // one copy per step, not one per row
        for (int b = 0; b < batch; ++b) tokens[b] = next[b].item<int64_t>();
      }
      SynchronizeDevice(options.device);
      if (i > 0) times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
      for (IpnSequence& s : seqs) engine->Release(s);
    }
    const double tps = batch * options.decode_steps / Median(times);
    report.decode_tokens_per_s.emplace_back(batch, tps);
    if (batch == 1) report.decode_tokens_per_s_single = tps;
  }
  return report;
}

std::string FormatSeq2SeqBenchReport(const BenchReport& r) {
  std::string out;
  absl::StrAppendFormat(&out, "  LMEye v0.1 (T5): encoder rows per prompt %d\n", r.encoder_rows);
  absl::StrAppendFormat(&out,
                        "  decoder weights per decode token %9.1f MB (+ %.1f MB cross K/V "
                        "per request)\n",
                        r.weight_bytes_per_token / 1e6, r.cross_kv_bytes_per_token / 1e6);
  absl::StrAppendFormat(&out, "  measured read bandwidth         %10.2f GB/s\n",
                        r.bandwidth_bytes_per_s / 1e9);
  absl::StrAppendFormat(&out, "  first encoder pass (prefill)    %10.1f rows/s\n",
                        r.prefill_tokens_per_s);
  const double single = r.decode_tokens_per_s_single;
  absl::StrAppendFormat(
      &out, "  decode, single stream           %10.2f tokens/s  (roofline %.2f, %.0f%%)\n", single,
      r.roofline_tokens_per_s,
      r.roofline_tokens_per_s > 0 ? 100.0 * single / r.roofline_tokens_per_s : 0.0);
  for (const auto& [batch, tps] : r.decode_tokens_per_s) {
    absl::StrAppendFormat(&out,
                          "  decode, batch %-3d               %10.2f tokens/s  (%.2fx batch 1)\n",
                          batch, tps, single > 0 ? tps / single : 0);
  }
  absl::StrAppendFormat(&out,
                        "  time to first token: IPN %.1f ms (vision + Q-Former %.1f, first encoder "
                        "pass %.1f, interaction %.1f, second pass + start token %.1f)\n",
                        r.ttft_ipn_s * 1e3, r.ttft_vision_s * 1e3, r.ttft_first_pass_s * 1e3,
                        r.ttft_interact_s * 1e3, r.ttft_second_pass_s * 1e3);
  absl::StrAppendFormat(&out, "  time to first token: IPN* %.1f ms; IPN / IPN* = %.2fx\n",
                        r.ttft_static_s * 1e3,
                        r.ttft_static_s > 0 ? r.ttft_ipn_s / r.ttft_static_s : 0.0);
  return out;
}

}  // namespace lmeye
