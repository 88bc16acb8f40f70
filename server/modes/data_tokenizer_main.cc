#include "server/modes/data_tokenizer_main.h"

#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/common/file_util.h"
#include "model/common/flags.h"
#include "model/tokenizer/bpe_trainer.h"
#include "server/modes/mode_flags.h"

namespace lmeye {
namespace {

constexpr char kAbout[] =
    "usage: lmeye data tokenizer --corpus FILE.jsonl [--corpus ...] --out DIR\n"
    "                            [--vocab-size 8192] [--min-frequency 2]\n"
    "  Trains a byte-level BPE vocabulary on the text of JSONL manifests: every \"text\",\n"
    "  \"caption\", \"question\" and \"answer\" value and every conversation turn's \"value\".\n"
    "  Writes DIR/tokenizer.json (+ tokenizer_config.json, special_tokens_map.json) in OPT's\n"
    "  layout: <s>=0 <pad>=1 </s>=2 <unk>=3, then the 256 bytes, then the merges; </s> is\n"
    "  prepended as BOS. Use it with: lmeye init-model --family opt --tokenizer DIR ...\n";

// The texts of one manifest line (nothing for a line that is not a JSON object).
void CollectTexts(const nlohmann::json& obj, std::vector<std::string>* texts) {
  if (!obj.is_object()) return;
  for (const char* key : {"text", "caption", "question", "answer"}) {
    auto it = obj.find(key);
    if (it != obj.end() && it->is_string()) texts->push_back(it->get<std::string>());
  }
  auto turns = obj.find("conversations");
  if (turns == obj.end() || !turns->is_array()) return;
  for (const nlohmann::json& turn : *turns) {
    if (turn.is_object() && turn.contains("value") && turn["value"].is_string()) {
      texts->push_back(turn["value"].get<std::string>());
    }
  }
}

}  // namespace

int DataTokenizerMain(const std::vector<std::string>& args) {
  std::vector<std::string> corpora;
  std::string out;
  BpeTrainerOptions options;
  const std::vector<Flag> flags = {
      StringsFlag("corpus", &corpora, "FILE.jsonl", "a manifest to read text from (repeatable)")
          .Required(),
      StringFlag("out", &out, "DIR", "where tokenizer.json goes").Required(),
      IntFlag("vocab-size", &options.vocab_size, "N",
              "total ids (specials + 256 bytes + merges; fewer when merges run out)"),
      IntFlag("min-frequency", &options.min_frequency, "N",
              "a pair must occur this often to be merged"),
  };
  if (std::optional<int> exit = ParseModeFlags("data tokenizer", kAbout, flags, args)) {
    return *exit;
  }
  std::vector<std::string> texts;
  for (const std::string& path : corpora) {
    absl::StatusOr<std::string> content = ReadFileToString(path);
    if (!content.ok()) {
      std::cerr << "lmeye data tokenizer: " << content.status().message() << "\n";
      return 1;
    }
    std::istringstream in(*content);
    std::string line;
    int bad = 0;
    while (std::getline(in, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json obj = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (obj.is_discarded() || !obj.is_object()) {
        ++bad;
        continue;
      }
      CollectTexts(obj, &texts);
    }
    if (bad > 0) std::cerr << "lmeye data tokenizer: " << path << ": " << bad << " bad lines\n";
  }
  absl::StatusOr<BpeTrainResult> result = TrainByteLevelBpe(texts, options);
  absl::Status written = result.ok() ? WriteTokenizerDir(*result, out) : result.status();
  if (!written.ok()) {
    std::cerr << "lmeye data tokenizer: " << written.message() << "\n";
    return 1;
  }
  std::cerr << "lmeye data tokenizer: " << result->vocab.size() << " ids (" << result->merges.size()
            << " merges) from " << texts.size() << " texts -> " << out << "/tokenizer.json\n";
  return 0;
}

}  // namespace lmeye
