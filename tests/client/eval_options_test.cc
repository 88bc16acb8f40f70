// lmeye_client eval's command line and pure parts: flags, image paths, the progress display.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "client/client_options.h"
#include "client/eval_inputs.h"
#include "client/eval_progress.h"

namespace lmeye::client {
namespace {

using ::testing::HasSubstr;

TEST(EvalOptionsTest, ParsesEveryEvalFlag) {
  auto options = ParseClientArgs({"eval",
                                  "--task",
                                  "long",
                                  "--data",
                                  "d/lmeye.jsonl",
                                  "--images",
                                  "img",
                                  "--concurrency",
                                  "16",
                                  "--predictions",
                                  "p.json",
                                  "--report=r.json",
                                  "--meteor",
                                  "m",
                                  "--limit",
                                  "5",
                                  "--no-progress",
                                  "--json",
                                  "--max-new-tokens",
                                  "64",
                                  "--num-beams",
                                  "3",
                                  "--server",
                                  "h:1",
                                  "--timeout",
                                  "30",
                                  "--image-pattern",
                                  "x_{image_id:012}.jpg"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, "eval");
  EXPECT_EQ(options->eval.task, "long");
  EXPECT_EQ(options->eval.data, "d/lmeye.jsonl");
  EXPECT_EQ(options->images, std::vector<std::string>{"img"});
  EXPECT_EQ(options->concurrency, 16);
  EXPECT_EQ(options->eval.predictions, "p.json");
  EXPECT_EQ(options->eval.report, "r.json");
  EXPECT_EQ(options->eval.meteor_dir, "m");
  EXPECT_EQ(options->eval.limit, 5);
  EXPECT_EQ(options->eval.progress, false);
  EXPECT_TRUE(options->json);
  EXPECT_EQ(options->generation.max_new_tokens, 64u);
  EXPECT_EQ(options->generation.num_beams, 3u);
  EXPECT_EQ(options->connection.server, "h:1");
  EXPECT_EQ(options->connection.timeout_seconds, 30);
  EXPECT_EQ(options->eval.image_pattern, "x_{image_id:012}.jpg");
}

TEST(EvalOptionsTest, DefaultsAndScoreOnly) {
  auto options = ParseClientArgs({"eval", "--task", "vqa", "--data", "q.json", "--annotations",
                                  "a.json", "--score-only", "preds.json", "--no-meteor"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->concurrency, 8);  // eval's default, not load's 1
  EXPECT_EQ(options->eval.annotations, "a.json");
  EXPECT_EQ(options->eval.score_only, "preds.json");
  EXPECT_TRUE(options->eval.no_meteor);
  EXPECT_FALSE(options->eval.progress.has_value());  // decided by isatty
  EXPECT_EQ(PredictionsPath(*options), "vqa_predictions.json");
  EXPECT_EQ(ReportPath(*options), "vqa_report.json");
  auto load = ParseClientArgs({"load"});
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->concurrency, 1);
}

TEST(EvalOptionsTest, UsageErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"eval", "--data", "d.jsonl"}, "--task is required"},
      {{"eval", "--task", "vqa"}, "--data is required"},
      {{"eval", "--task", "caption", "--data", "d"}, "--task: expected vqa, long, describe or"},
      {{"eval", "--task", "vqa", "--data", "d", "--concurrency", "0"}, "--concurrency"},
      {{"eval", "--task", "vqa", "--data", "d", "--limit", "-1"}, "--limit"},
      {{"eval", "--task", "vqa", "--data", "d", "--images", "a", "--images", "b"},
       "--images takes one directory"},
      {{"eval", "--task", "long", "--data", "d", "--annotations", "a"}, "needs --task vqa"},
      {{"eval", "--task", "vqa", "--data", "d", "--question", "q"}, "not a flag of eval"},
      {{"vqa", "--image", "i", "--question", "q", "--task", "vqa"}, "not a flag of vqa"},
      {{"load", "--score-only", "p"}, "not a flag of load"},
      {{"eval", "--task", "vqa", "--data", "d", "--no-meteor=1"}, "takes no value"},
  };
  for (const auto& [args, message] : cases) {
    auto options = ParseClientArgs(args);
    ASSERT_FALSE(options.ok()) << args[1];
    EXPECT_THAT(std::string(options.status().message()), HasSubstr(message));
  }
}

TEST(EvalOptionsTest, UsageListsEval) {
  const std::string usage = ClientUsage();
  EXPECT_THAT(usage, HasSubstr("  eval  "));
  EXPECT_THAT(usage, HasSubstr("--score-only PREDICTIONS"));
  EXPECT_THAT(usage, HasSubstr("[chat,describe,vqa,load,eval]"));  // the generation flags
}

TEST(EvalInputsTest, ImagePaths) {
  eval::EvalItem item;
  item.id = "7";
  item.image_id = "262148";
  item.image = "val2014/x.jpg";
  EXPECT_EQ(*ImagePathOf(item, {"/data/coco", ""}), "/data/coco/val2014/x.jpg");
  EXPECT_EQ(*ImagePathOf(item, {"", ""}), "val2014/x.jpg");
  item.image = "/abs/x.jpg";
  EXPECT_EQ(*ImagePathOf(item, {"/data/coco", ""}), "/abs/x.jpg");
  item.image.clear();
  EXPECT_EQ(*ImagePathOf(item, {"/c", "val2014/COCO_val2014_{image_id:012}.jpg"}),
            "/c/val2014/COCO_val2014_000000262148.jpg");
  auto none = ImagePathOf(item, {"/c", ""});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no image path"));

  EXPECT_EQ(*ExpandImagePattern("{image_id}/{image_id:04}.png", "12"), "12/0012.png");
  EXPECT_EQ(*ExpandImagePattern("plain.png", "12"), "plain.png");
  EXPECT_FALSE(ExpandImagePattern("{id}.png", "12").ok());
  EXPECT_FALSE(ExpandImagePattern("{image_id:012}.png", "abc").ok());
  EXPECT_FALSE(ExpandImagePattern("{image_id", "12").ok());
}

TEST(EvalProgressTest, Format) {
  EXPECT_EQ(FormatProgress(45, 100, 2, 15.0, false),
            "45/100 items (45%), 3.0 items/s, ETA 0:18, failed 2");
  EXPECT_EQ(FormatProgress(100, 100, 0, 20.0, false), "100/100 items (100%), 5.0 items/s");
  EXPECT_EQ(FormatProgress(0, 10, 0, 0.0, false), "0/10 items (0%), 0.0 items/s");
  EXPECT_EQ(FormatProgress(5, 10, 1, 5.0, true),
            "[===============>              ]  5/10  50%  1.0 items/s  ETA 0:05  failed 1");
  EXPECT_EQ(FormatProgress(1, 3600 * 2 + 1, 0, 1.0, false).substr(0, 35),
            "1/7201 items (0%), 1.0 items/s, ETA");
  EXPECT_THAT(FormatProgress(1, 3600 * 2 + 1, 0, 1.0, false), HasSubstr("ETA 2:00:00"));
}

TEST(EvalProgressTest, PlainLinesAtEveryTenth) {
  std::ostringstream out;
  EvalProgress progress(20, &out, /*terminal=*/false);
  for (int i = 0; i < 20; ++i) progress.Add(/*failed=*/i == 3);
  progress.Finish();
  const std::string text = out.str();
  // One line per tenth (every second item), none repeated by Finish.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10);
  EXPECT_THAT(text, HasSubstr("eval: 2/20 items (10%)"));
  EXPECT_THAT(text, HasSubstr("eval: 20/20 items (100%)"));
  EXPECT_THAT(text, HasSubstr("failed 1"));
  EXPECT_EQ(text.find('\r'), std::string::npos);

  std::ostringstream tty;
  EvalProgress bar(3, &tty, /*terminal=*/true);
  bar.Add(false);
  bar.Finish();
  EXPECT_EQ(tty.str().front(), '\r');
  EXPECT_THAT(tty.str(), HasSubstr("1/3"));
  EXPECT_EQ(tty.str().back(), '\n');

  EvalProgress silent(3, nullptr, false);  // nothing to draw on
  silent.Add(true);
  silent.Finish();
}

}  // namespace
}  // namespace lmeye::client
