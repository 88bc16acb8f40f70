// `lmeye data <dataset> [flags]`: makes datasets. Subcommands:
//   shapes   the synthetic shapes world (model/synth/shapes_dataset.h): images, captions,
//            instruct conversations, LM text, evaluation QA, scene graphs and, where `lmeye`
//            is built with the training library, matching.jsonl (model/train/matching_data.h).
// A new subcommand is one function and one row in data_main.cc's table.
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// `args` excludes "lmeye data". Returns the process exit code: 0 written (or --help), 1 failed
// while writing, 2 usage error (unknown subcommand, bad or missing flag).
int DataMain(const std::vector<std::string>& args);

}  // namespace lmeye
