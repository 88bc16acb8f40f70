// `lmeye data tokenizer`: trains a byte-level BPE vocabulary of a model's own
// (model/tokenizer/bpe_trainer.h) on the text of JSONL manifests and writes it as a Hugging Face
// tokenizer directory (tokenizer.json, tokenizer_config.json, special_tokens_map.json) that
// `lmeye init-model --tokenizer DIR` builds a model on. A small vocabulary keeps a small model's
// embedding tables small (the demo model's, deploy/train-demo.sh).
#pragma once

#include <string>
#include <vector>

namespace lmeye {

// `args` excludes "lmeye data tokenizer". Exit code: 0 written (or --help), 1 failed, 2 usage.
int DataTokenizerMain(const std::vector<std::string>& args);

}  // namespace lmeye
