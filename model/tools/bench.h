// `lmeye bench`: model-level speed of an LMEye model directory, without gRPC. Everything is
// measured in one run, so ratios (decode vs the memory-bandwidth roofline, IPN vs IPN* time to
// first token) are meaningful on a shared, noisy machine even where absolute numbers are not.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"

namespace lmeye {

struct BenchOptions {
  std::string model_dir;
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  bool int8_weights = false;  // the LLM's linear weights int8 (LlmLoadOptions::int8_weights)
  int prompt_tokens = 64;    // |X| of the benchmark prompts
  int prefill_tokens = 256;  // prompt length for the prefill throughput figure
  int decode_steps = 32;     // decode steps timed per batch size
  std::vector<int> batch_sizes = {1, 8, 32};
  int repeats = 3;  // each timing is the median of this many runs
  // KV cache positions per slot; 0: just what the benchmark needs. The server allocates
  // scheduler.max_sequence_positions (1024 by default): set it to time the server's layout.
  int kv_capacity = 0;
  uint64_t seed = 0;
};

struct BenchReport {
  std::string model_dir;
  std::string dtype;
  std::string device;
  int threads = 0;
  int prompt_tokens = 0;  // as run (capped by the model's positions)
  int prefill_tokens = 0;
  double weight_bytes_per_token = 0;  // LLM weights read per decode step
  double bandwidth_bytes_per_s = 0;   // measured read bandwidth (one large tensor sum, on the
                                      // model's device: DRAM for the CPU, HBM for a GPU)
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s_single = 0;
  double roofline_tokens_per_s = 0;                         // bandwidth / weight bytes per token
  std::vector<std::pair<int, double>> decode_tokens_per_s;  // batch size -> tokens/s (all rows)
  // The largest batch (when >= 8) decoding in slot order with a hole in every 9 slots, as
  // the server's batch is while requests run their first pass: read in place as runs of
  // consecutive slots vs the same rows in reverse slot order, which gathers the cache.
  int holes_batch = 0;
  int holes = 0;
  double decode_holes_in_place_tokens_per_s = 0;
  double decode_holes_gathered_tokens_per_s = 0;
  double ttft_ipn_s = 0;  // vision + first pass + interaction + second pass from the first <img-d>
  double ttft_static_s = 0;  // IPN*: vision + prefill of [P, h_img, X]
  double ttft_naive_s = 0;   // the reference code's way: two full passes
  // LMEye v0.1 (T5, bench_seq2seq.h): the rows above mean the decoder (weights: T5's decoder and
  // lm_head; decode: DecodeStep over that many slots), prefill is the first encoder pass, and
  // there is no naive figure (0) and no holes row. The IPN time to first token by phase:
  bool seq2seq = false;
  double ttft_vision_s = 0;       // EVA ViT + Q-Former
  double ttft_first_pass_s = 0;   // the first encoder pass (h_r at <img-q>)
  double ttft_interact_s = 0;     // CLIP text interaction
  double ttft_second_pass_s = 0;  // second encoder pass, cross-attention K/V, the start token
  int encoder_rows = 0;  // of a benchmark prompt: queries + |X| + <img-q> + <img-d>s + </s>
  // Cross-attention K/V of one request that each decode step reads (every decoder layer's, over
  // encoder_rows): added to the weights in the batch-1 roofline.
  double cross_kv_bytes_per_token = 0;
};

absl::StatusOr<BenchReport> RunBench(const BenchOptions& options);

// A human-readable table plus ratios.
std::string FormatBenchReport(const BenchReport& report);
// One JSON object (for scripts and the closing notes).
std::string BenchReportToJson(const BenchReport& report);

}  // namespace lmeye
