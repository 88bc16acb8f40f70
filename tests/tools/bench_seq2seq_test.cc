// lmeye bench on an LMEye v0.1 directory (the tiny v0.1 preset of init-model): the run goes
// through Seq2SeqIpnEngine and reports positive figures for every row (no timing is asserted:
// the machine is shared).
#include "model/tools/bench_seq2seq.h"

#include <string>

#include <gtest/gtest.h>

#include "model/tools/bench.h"
#include "model/tools/init_model.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

TEST(BenchSeq2SeqTest, TinyV01PresetReportsEveryRow) {
  testing::ScratchDir scratch("bench_seq2seq");
  InitModelOptions init;
  init.v01_preset = "tiny";
  init.tokenizer_dir = testing::TestData("models/lingcloud-blip2-tiny/blip2");
  init.out_dir = scratch.Path("model");
  absl::StatusOr<InitModelReport> written = InitModel(init);
  ASSERT_TRUE(written.ok()) << written.status();

  BenchOptions o;
  o.model_dir = init.out_dir;
  o.prompt_tokens = 8;
  o.prefill_tokens = 16;
  o.decode_steps = 3;
  o.batch_sizes = {1, 4};
  o.repeats = 1;
  absl::StatusOr<BenchReport> r = RunBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->seq2seq);
  EXPECT_EQ(r->encoder_rows, 8 + 8 + 1 + 5 + 1);  // queries, X, <img-q>, <img-d>s, </s>
  EXPECT_GT(r->weight_bytes_per_token, 0);
  EXPECT_GT(r->cross_kv_bytes_per_token, 0);
  EXPECT_GT(r->bandwidth_bytes_per_s, 0);
  EXPECT_GT(r->roofline_tokens_per_s, 0);
  EXPECT_GT(r->prefill_tokens_per_s, 0);
  EXPECT_GT(r->ttft_vision_s, 0);
  EXPECT_GT(r->ttft_first_pass_s, 0);
  EXPECT_GT(r->ttft_interact_s, 0);
  EXPECT_GT(r->ttft_second_pass_s, 0);
  EXPECT_GT(r->ttft_ipn_s, 0);
  EXPECT_GT(r->ttft_static_s, 0);
  ASSERT_EQ(r->decode_tokens_per_s.size(), 2u);
  for (const auto& [batch, tps] : r->decode_tokens_per_s) EXPECT_GT(tps, 0) << batch;
  EXPECT_GT(r->decode_tokens_per_s_single, 0);
  const std::string text = FormatBenchReport(*r);
  EXPECT_NE(text.find("LMEye v0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("IPN*"), std::string::npos) << text;
  EXPECT_NE(BenchReportToJson(*r).find("ttft_second_pass_s"), std::string::npos);
}

}  // namespace
}  // namespace lmeye
