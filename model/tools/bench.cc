#include "model/tools/bench.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/device.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/ipn/decoder_engine.h"
#include "model/ipn/lmeye_model.h"
#include "model/llm/int8_weight.h"
#include "model/tools/bench_seq2seq.h"

namespace lmeye {
namespace bench_internal {

using Clock = std::chrono::steady_clock;

// Median wall time of `repeats` runs of `fn` (after one warm-up run), in seconds. The device
// is synchronised before the clock starts and stops: GPU work is queued asynchronously.
absl::StatusOr<double> TimeMedian(const at::Device& device, int repeats,
                                  const std::function<absl::Status()>& fn) {
  LMEYE_RETURN_IF_ERROR(fn());  // warm-up: first-touch allocations, oneDNN primitive creation
  std::vector<double> times;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    SynchronizeDevice(device);
    auto start = Clock::now();
    LMEYE_RETURN_IF_ERROR(fn());
    SynchronizeDevice(device);
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Read bandwidth: sum over a tensor much larger than the last-level cache (256 MiB on the CPU;
// 2 GiB on a GPU, whose L2 is 50+ MB and whose reads are fast enough that launch costs matter).
double MeasureBandwidth(const at::Device& device) {
  const int64_t n = device.is_cpu() ? (int64_t{64} << 20) : (int64_t{512} << 20);
  at::Tensor big = at::ones({n}, at::TensorOptions().dtype(at::kFloat).device(device));
  big.sum().item<float>();
  std::vector<double> rates;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    big.sum().item<float>();
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(big.numel() * 4.0 / s);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace bench_internal

namespace {

using bench_internal::MeasureBandwidth;
using bench_internal::TimeMedian;

// Bytes of LLM weights a decode step reads: every tensor but the embedding tables (one row of
// each is read), plus lm_head, which is the token table itself when tied. With int8 weights
// each counts a byte and its share of a float scale (norms and biases, a few thousandths of
// the total, are counted so too).
absl::StatusOr<double> WeightBytesPerToken(const std::string& llm_dir, const LlmModel& llm) {
  LMEYE_ASSIGN_OR_RETURN(auto ckpt, Checkpoint::Open(llm_dir));
  const double elem = llm.int8_weights() ? 1.0 + 4.0 / kInt8Block
                                         : static_cast<double>(at::elementSize(llm.dtype()));
  double n = 0;
  for (const std::string& name : ckpt->names()) {
    const CheckpointTensorInfo* e = ckpt->Info(name);
    double numel = 1;
    for (int64_t d : e->shape) numel *= static_cast<double>(d);
    bool embedding = absl::StrContains(name, "embed_tokens") ||
                     absl::StrContains(name, "word_embeddings.weight") ||
                     absl::StrContains(name, "embed_positions");
    if (!embedding) n += numel;
  }
  if (llm.config().tie_word_embeddings) {
    n += static_cast<double>(llm.config().vocab_size) * llm.config().embed_dim;
  }
  return n * elem;
}

}  // namespace

absl::StatusOr<BenchReport> RunBench(const BenchOptions& requested) {
  torch::NoGradGuard no_grad;
  BenchOptions options = requested;
  LmeyeLoadOptions load;
  load.dtype = options.dtype;
  load.int8_weights = options.int8_weights;
  load.device = options.device;
  LMEYE_ASSIGN_OR_RETURN(auto model, LmeyeModel::Load(options.model_dir, load));
  if (model->lingcloud_v01() != nullptr) return RunSeq2SeqBench(options, *model);
  const LlmModel& llm = model->llm();
  BenchReport report;
  report.model_dir = options.model_dir;
  report.dtype = ModelDtypeName({options.dtype, options.int8_weights});
  report.device = options.device.str();
  report.threads = at::get_num_threads();
  LMEYE_ASSIGN_OR_RETURN(
      report.weight_bytes_per_token,
      WeightBytesPerToken(options.model_dir + "/" + model->adapter_config().llm, llm));
  report.bandwidth_bytes_per_s = MeasureBandwidth(options.device);
  report.roofline_tokens_per_s = report.bandwidth_bytes_per_s / report.weight_bytes_per_token;
  // The released v0 layout's prompts end in its <img-d>s and a short text (the tail, below).
  const int n_tail = model->n_slot_positions() > 1 ? model->n_slot_positions() + 3 : 0;
  // Models with learned positions (OPT) cap the sequence length: shrink the prompts to fit.
  if (llm.config().max_positions > 0) {
    const int room =
        static_cast<int>(llm.config().max_positions) - options.decode_steps - 4 - n_tail;
    if (room < 2) {
      return absl::InvalidArgumentError(absl::StrCat("--decode-steps ", options.decode_steps,
                                                     " leaves no room in the model's ",
                                                     llm.config().max_positions, " positions"));
    }
    options.prefill_tokens = std::min(options.prefill_tokens, room);
    options.prompt_tokens = std::min(options.prompt_tokens, room);
  }
  report.prefill_tokens = options.prefill_tokens;
  report.prompt_tokens = options.prompt_tokens;

  at::manual_seed(options.seed);
  const int64_t vocab = llm.config().vocab_size;
  auto random_ids = [&](int n) {
    std::vector<int> ids;
    at::Tensor t = at::randint(4, vocab, {n}, at::kLong);
    for (int i = 0; i < n; ++i) ids.push_back(static_cast<int>(t[i].item<int64_t>()));
    return ids;
  };
  const auto& vc = model->vision().config();
  at::Tensor pixels = at::randn({1, vc.n_channels, vc.image_size, vc.image_size});

  int max_batch = 1;
  for (int b : options.batch_sizes) max_batch = std::max(max_batch, b);
  EngineOptions engine_options;
  const int max_holes = max_batch >= 8 ? max_batch / 8 : 0;
  engine_options.n_slots = max_batch + max_holes;
  engine_options.capacity =
      std::max(options.prefill_tokens, options.prompt_tokens) + options.decode_steps + 8 + n_tail;
  if (options.kv_capacity > 0) {
    engine_options.capacity = std::max(engine_options.capacity, options.kv_capacity);
  }
  LMEYE_ASSIGN_OR_RETURN(auto engine, DecoderIpnEngine::Create(model.get(), engine_options));

  // What follows X: nothing for the own layout (its one <img-d> is implied); for the released v0
  // its query_len <img-d>s and a short text after them ("\nAnswer:").
  std::vector<int> tail;
  if (n_tail > 0) {
    tail.assign(model->n_slot_positions(), kSlotPosition);
    for (int id : random_ids(n_tail - model->n_slot_positions())) tail.push_back(id);
  }
  // The second pass's positions: the tail, or the own layout's one <img-d>.
  const std::vector<int> second_pass = tail.empty() ? std::vector<int>{kSlotPosition} : tail;

  // Prefill throughput: one long IPN* prompt.
  {
    std::vector<int> text = random_ids(options.prefill_tokens);
    LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine->EncodeImages(pixels));
    LMEYE_ASSIGN_OR_RETURN(double s,
                           TimeMedian(options.device, options.repeats, [&]() -> absl::Status {
                             IpnSequence seq;
                             seq.h_i = h_i[0];
                             seq.text = text;
                             seq.tail = tail;
                             seq.interaction = false;
                             absl::Status st = engine->FirstPass({&seq});
                             engine->Release(seq);
                             return st;
                           }));
    report.prefill_tokens_per_s = (options.prefill_tokens + 1) / s;
  }

  // Time to first token, three ways, on the same prompt.
  std::vector<int> question = random_ids(options.prompt_tokens);
  // Vision, then the first pass; with the interaction also the interaction and second pass.
  auto ttft = [&](bool interaction) -> absl::Status {
    IpnSequence seq;
    LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine->EncodeImages(pixels));
    seq.h_i = h_i[0];
    seq.text = question;
    seq.tail = tail;
    seq.interaction = interaction;
    LMEYE_RETURN_IF_ERROR(engine->FirstPass({&seq}));
    if (interaction) {
      LMEYE_RETURN_IF_ERROR(engine->Interact({&seq}));
      LMEYE_RETURN_IF_ERROR(engine->SecondPass({&seq}));
    }
    seq.next_logits.argmax().item<int64_t>();
    engine->Release(seq);
    return absl::OkStatus();
  };
  LMEYE_ASSIGN_OR_RETURN(report.ttft_ipn_s,
                         TimeMedian(options.device, options.repeats, [&]() { return ttft(true); }));
  LMEYE_ASSIGN_OR_RETURN(report.ttft_static_s, TimeMedian(options.device, options.repeats,
                                                          [&]() { return ttft(false); }));
  LMEYE_ASSIGN_OR_RETURN(
      report.ttft_naive_s, TimeMedian(options.device, options.repeats, [&]() -> absl::Status {
        // The reference code: the whole prompt through the LLM twice, no cache reuse.
        LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine->EncodeImages(pixels));
        h_i = h_i.to(llm.dtype());
        LMEYE_ASSIGN_OR_RETURN(at::Tensor h_img, model->ImagePosition(h_i));
        std::vector<int64_t> ids(question.begin(), question.end());
        LMEYE_ASSIGN_OR_RETURN(at::Tensor e_x,
                               llm.EmbedTokens(at::tensor(ids, at::kLong).view({1, -1})));
        at::Tensor prefix = at::cat({h_img.unsqueeze(1), e_x}, 1);
        LMEYE_ASSIGN_OR_RETURN(at::Tensor imgd, model->FirstPassSlot());
        LMEYE_ASSIGN_OR_RETURN(
            at::Tensor first_tail,
            EmbedTail(llm, second_pass,
                      imgd.view({1, -1}).expand({model->n_slot_positions(), -1})));
        LlmInput first;
        first.inputs_embeds = at::cat({prefix, first_tail.unsqueeze(0)}, 1);
        LlmOutputOptions none;
        none.logits = LogitsAt::kNone;
        none.pre_norm = model->first_pass_pre_norm();
        LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(first, none));
        at::Tensor h_r = (none.pre_norm ? out.pre_norm_hidden : out.last_hidden_state)
                             .select(1, prefix.size(1));  // the first <img-d>
        LMEYE_ASSIGN_OR_RETURN(IpnSlotRows slot_rows, model->InteractSlots(h_i, h_r));
        LMEYE_ASSIGN_OR_RETURN(at::Tensor second_tail,
                               EmbedTail(llm, second_pass, slot_rows.rows[0]));
        LlmInput second;
        second.inputs_embeds = at::cat({prefix, second_tail.unsqueeze(0)}, 1);
        LlmOutputOptions last;
        last.logits = LogitsAt::kLast;
        LMEYE_ASSIGN_OR_RETURN(LlmOutput out2, llm.Forward(second, last));
        out2.logits.argmax().item<int64_t>();
        return absl::OkStatus();
      }));

  // Decode throughput per batch size: IPN* prefill of every row, then timed decode steps.
  LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine->EncodeImages(pixels));
  // Prefills n sequences and returns their slots.
  auto prefill = [&](int n, std::vector<IpnSequence>* seqs) -> absl::StatusOr<std::vector<int>> {
    seqs->assign(n, IpnSequence());
    std::vector<IpnSequence*> ptrs;
    for (IpnSequence& s : *seqs) {
      s.h_i = h_i[0];
      s.text = random_ids(options.prompt_tokens);
      s.tail = tail;
      s.interaction = false;
      ptrs.push_back(&s);
    }
    LMEYE_RETURN_IF_ERROR(engine->FirstPass(ptrs));
    std::vector<int> slots;
    for (IpnSequence& s : *seqs) slots.push_back(s.slot);
    return slots;
  };
  // Decode tokens/s of the rows in `slots` (in that order), from their prefilled lengths.
  auto time_decode = [&](const std::vector<int>& slots) -> absl::StatusOr<double> {
    const int batch = static_cast<int>(slots.size());
    std::vector<int> lengths;
    for (int slot : slots) lengths.push_back(engine->cache().length(slot));
    auto run = [&]() -> absl::Status {
      for (size_t b = 0; b < slots.size(); ++b) {
        LMEYE_RETURN_IF_ERROR(engine->cache().Truncate(slots[b], lengths[b]));
      }
      std::vector<int64_t> tokens(batch, 5);
      for (int step = 0; step < options.decode_steps; ++step) {
        LMEYE_ASSIGN_OR_RETURN(at::Tensor logits, engine->DecodeStep(slots, tokens));
        at::Tensor next = logits.argmax(1).cpu();  // one copy per step, not one per row
        for (int b = 0; b < batch; ++b) tokens[b] = next[b].item<int64_t>();
      }
      return absl::OkStatus();
    };
    LMEYE_ASSIGN_OR_RETURN(double s, TimeMedian(options.device, options.repeats, run));
    // Back to the prefilled lengths, for the next timing of the same rows.
    for (size_t b = 0; b < slots.size(); ++b) {
      LMEYE_RETURN_IF_ERROR(engine->cache().Truncate(slots[b], lengths[b]));
    }
    return batch * options.decode_steps / s;
  };
  for (int batch : options.batch_sizes) {
    std::vector<IpnSequence> seqs;
    LMEYE_ASSIGN_OR_RETURN(std::vector<int> slots, prefill(batch, &seqs));
    LMEYE_ASSIGN_OR_RETURN(double tps, time_decode(slots));
    report.decode_tokens_per_s.emplace_back(batch, tps);
    if (batch == 1) report.decode_tokens_per_s_single = tps;
    for (IpnSequence& seq : seqs) engine->Release(seq);
  }
  if (max_holes > 0) {
    std::vector<IpnSequence> seqs;
    LMEYE_ASSIGN_OR_RETURN(std::vector<int> all, prefill(max_batch + max_holes, &seqs));
    std::sort(all.begin(), all.end());
    std::vector<int> slots;  // every slot but the 5th of each 9: holes inside the range
    for (size_t i = 0; i < all.size(); ++i) {
      if (i % 9 != 4 || static_cast<int>(i / 9) >= max_holes) slots.push_back(all[i]);
    }
    report.holes_batch = max_batch;
    report.holes = max_holes;
    LMEYE_ASSIGN_OR_RETURN(report.decode_holes_in_place_tokens_per_s, time_decode(slots));
    std::reverse(slots.begin(), slots.end());
    LMEYE_ASSIGN_OR_RETURN(report.decode_holes_gathered_tokens_per_s, time_decode(slots));
    for (IpnSequence& seq : seqs) engine->Release(seq);
  }
  return report;
}

std::string FormatBenchReport(const BenchReport& r) {
  std::string out = absl::StrFormat(
      "lmeye bench %s (%s on %s, %d threads; prompts of %d tokens, prefill of %d)\n", r.model_dir,
      r.dtype, r.device, r.threads, r.prompt_tokens, r.prefill_tokens);
  if (r.seq2seq) return out + FormatSeq2SeqBenchReport(r);
  absl::StrAppendFormat(&out, "  weights read per decode token   %10.1f MB\n",
                        r.weight_bytes_per_token / 1e6);
  absl::StrAppendFormat(&out, "  measured read bandwidth         %10.2f GB/s\n",
                        r.bandwidth_bytes_per_s / 1e9);
  absl::StrAppendFormat(&out, "  prefill                         %10.1f tokens/s\n",
                        r.prefill_tokens_per_s);
  absl::StrAppendFormat(
      &out, "  decode, single stream           %10.1f tokens/s  (roofline %.1f, %.0f%%)\n",
      r.decode_tokens_per_s_single, r.roofline_tokens_per_s,
      100.0 * r.decode_tokens_per_s_single / r.roofline_tokens_per_s);
  for (const auto& [batch, tps] : r.decode_tokens_per_s) {
    absl::StrAppendFormat(
        &out, "  decode, batch %-3d               %10.1f tokens/s  (%.2fx batch 1)\n", batch, tps,
        r.decode_tokens_per_s_single > 0 ? tps / r.decode_tokens_per_s_single : 0);
  }
  if (r.holes_batch > 0) {
    absl::StrAppendFormat(
        &out,
        "  decode, batch %d, %d holes      %10.1f tokens/s in place, %.1f "
        "gathered (%.2fx)\n",
        r.holes_batch, r.holes, r.decode_holes_in_place_tokens_per_s,
        r.decode_holes_gathered_tokens_per_s,
        r.decode_holes_in_place_tokens_per_s / r.decode_holes_gathered_tokens_per_s);
  }
  absl::StrAppendFormat(
      &out, "  time to first token: IPN %.1f ms, IPN* %.1f ms, naive two-pass %.1f ms\n",
      r.ttft_ipn_s * 1e3, r.ttft_static_s * 1e3, r.ttft_naive_s * 1e3);
  absl::StrAppendFormat(&out, "  IPN / IPN* = %.2fx, naive / IPN* = %.2fx\n",
                        r.ttft_ipn_s / r.ttft_static_s, r.ttft_naive_s / r.ttft_static_s);
  return out;
}

std::string BenchReportToJson(const BenchReport& r) {
  nlohmann::json j = {
      {"model_dir", r.model_dir},
      {"dtype", r.dtype},
      {"device", r.device},
      {"threads", r.threads},
      {"prompt_tokens", r.prompt_tokens},
      {"prefill_tokens", r.prefill_tokens},
      {"weight_bytes_per_token", r.weight_bytes_per_token},
      {"bandwidth_bytes_per_s", r.bandwidth_bytes_per_s},
      {"prefill_tokens_per_s", r.prefill_tokens_per_s},
      {"decode_tokens_per_s_single", r.decode_tokens_per_s_single},
      {"roofline_tokens_per_s", r.roofline_tokens_per_s},
      {"roofline_fraction", r.decode_tokens_per_s_single / r.roofline_tokens_per_s},
      {"ttft_ipn_s", r.ttft_ipn_s},
      {"ttft_static_s", r.ttft_static_s},
      {"ttft_naive_s", r.ttft_naive_s},
  };
  if (r.seq2seq) {
    j["seq2seq"] = {{"ttft_vision_s", r.ttft_vision_s},
                    {"ttft_first_pass_s", r.ttft_first_pass_s},
                    {"ttft_interact_s", r.ttft_interact_s},
                    {"ttft_second_pass_s", r.ttft_second_pass_s},
                    {"encoder_rows", r.encoder_rows},
                    {"cross_kv_bytes_per_token", r.cross_kv_bytes_per_token}};
  }
  for (const auto& [batch, tps] : r.decode_tokens_per_s) {
    j["decode_tokens_per_s"][std::to_string(batch)] = tps;
  }
  if (r.holes_batch > 0) {
    j["decode_with_holes"] = {{"batch", r.holes_batch},
                              {"holes", r.holes},
                              {"in_place_tokens_per_s", r.decode_holes_in_place_tokens_per_s},
                              {"gathered_tokens_per_s", r.decode_holes_gathered_tokens_per_s}};
  }
  return j.dump(2);
}

}  // namespace lmeye
