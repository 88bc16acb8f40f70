// The byte-level BPE trainer and its tokenizer.json writer: merges checked by hand and against a
// brute-force trainer written here, and the written directory loaded back through the serving
// path's LoadTokenizer as an OPT model directory.
#include "model/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/common/file_util.h"
#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/scratch_dir.h"

namespace lmeye {
namespace {

using ::lmeye::testing::ScratchDir;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr int kSpecial = 4;  // <s> <pad> </s> <unk>
constexpr int kBase = kSpecial + 256;

// Coloured shapes: few distinct words, many repeats, like the demo model's captions.
std::vector<std::string> ShapesCorpus() {
  const char* colours[] = {"red", "green", "blue", "yellow", "purple", "orange"};
  const char* shapes[] = {"triangle", "circle", "square", "star", "hexagon"};
  const char* places[] = {"left", "right", "top", "bottom", "centre"};
  std::vector<std::string> texts = {
      "A red triangle sits above a blue circle.",
      "There are 3 green squares and 12 yellow stars!",
      "Is the purple hexagon bigger than the orange triangle?",
      "The image shows a triangle, a circle and a square.",
  };
  int n = 0;
  for (const char* colour : colours) {
    for (const char* shape : shapes) {
      const char* place = places[n++ % 5];
      texts.push_back(std::string("The ") + colour + " " + shape + " is at the " + place + ".");
      texts.push_back(std::string("A small ") + colour + " " + shape + " next to a large " +
                      shapes[n % 5] + ".");
    }
  }
  return texts;
}

BpeTrainResult Train(const std::vector<std::string>& texts, int vocab_size,
                     int64_t min_frequency = 2) {
  BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  options.min_frequency = min_frequency;
  absl::StatusOr<BpeTrainResult> result = TrainByteLevelBpe(texts, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return std::move(result).value();
}

std::unique_ptr<Tokenizer> WriteAndLoad(const BpeTrainResult& result, const ScratchDir& dir,
                                        bool with_config) {
  const absl::Status written = WriteTokenizerDir(result, dir.Path("tok"));
  EXPECT_TRUE(written.ok()) << written;
  if (with_config) dir.Write("tok/config.json", R"({"model_type": "opt"})");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(dir.Path("tok"));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

// The textbook algorithm with nothing incremental: recount every pair before every merge.
// Ties go to the smallest (left, right) bytes, as the trainer documents. Merges as raw bytes.
struct BruteForceMerge {
  std::string left, right;
  int64_t count;
};
std::vector<BruteForceMerge> BruteForceTrain(const std::vector<std::string>& texts, int vocab_size,
                                             int64_t min_frequency) {
  std::map<std::string, int64_t> word_counts;
  for (const std::string& text : texts) {
    std::vector<absl::string_view> words;
    SplitGpt2(text, &words);
    for (absl::string_view w : words) ++word_counts[std::string(w)];
  }
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (const auto& [w, count] : word_counts) {
    std::vector<std::string> symbols;
    for (char c : w) symbols.emplace_back(1, c);
    words.emplace_back(std::move(symbols), count);
  }
  std::set<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.insert(std::string(1, static_cast<char>(b)));
  std::vector<BruteForceMerge> merges;
  while (kSpecial + static_cast<int>(tokens.size()) < vocab_size) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto& [symbols, count] : words) {
      for (size_t i = 0; i + 1 < symbols.size(); ++i) pairs[{symbols[i], symbols[i + 1]}] += count;
    }
    const std::pair<std::string, std::string>* best = nullptr;
    int64_t best_count = 0;
    for (const auto& [pair, count] : pairs) {
      if (count > best_count) best = &pair, best_count = count;
    }
    if (best == nullptr || best_count < min_frequency) break;
    merges.push_back({best->first, best->second, best_count});
    tokens.insert(best->first + best->second);
    for (auto& [symbols, count] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == best->first && symbols[i + 1] == best->second) {
          out.push_back(best->first + best->second);
          ++i;
        } else {
          out.push_back(symbols[i]);
        }
      }
      symbols = std::move(out);
    }
  }
  return merges;
}

TEST(BpeTrainerTest, TinyCorpusGivesHandCheckedMerges) {
  // Words "aaab" and " aab". Pairs: (a,a) 2+1 = 3, (a,b) 2, (Ġ,a) 1: "aa" first. Then "aa|a|b"
  // and "Ġ|aa|b" hold (aa,a) (a,b) (Ġ,aa) (aa,b), once each: the tie goes to the smallest bytes,
  // " " + "aa".
  const BpeTrainResult result = Train({"aaab aab"}, kBase + 2, /*min_frequency=*/1);
  EXPECT_THAT(result.merges, ElementsAre(Pair("a", "a"), Pair("Ġ", "aa")));
  EXPECT_THAT(result.merge_counts, ElementsAre(3, 1));
  ASSERT_EQ(result.vocab.size(), static_cast<size_t>(kBase + 2));
  EXPECT_EQ(result.vocab[kBase], "aa");
  EXPECT_EQ(result.vocab[kBase + 1], "Ġaa");

  // At min_frequency 2 only the first merge qualifies, and the vocabulary stops short.
  const BpeTrainResult frequent = Train({"aaab aab"}, kBase + 2, /*min_frequency=*/2);
  EXPECT_THAT(frequent.merges, ElementsAre(Pair("a", "a")));
  EXPECT_EQ(frequent.vocab.size(), static_cast<size_t>(kBase + 1));
}

TEST(BpeTrainerTest, MatchesBruteForceTraining) {
  const std::vector<std::string> corpus = ShapesCorpus();
  const int vocab_size = kBase + 80;
  const BpeTrainResult result = Train(corpus, vocab_size);
  const std::vector<BruteForceMerge> expected = BruteForceTrain(corpus, vocab_size, 2);
  ASSERT_EQ(result.merges.size(), expected.size());
  ASSERT_FALSE(expected.empty());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(result.merges[i].first, ByteLevelEncode(expected[i].left));
    EXPECT_EQ(result.merges[i].second, ByteLevelEncode(expected[i].right));
    EXPECT_EQ(result.merge_counts[i], expected[i].count);
  }
  // Most frequent first, never rising.
  EXPECT_TRUE(std::is_sorted(result.merge_counts.rbegin(), result.merge_counts.rend()));
}

// Small alphabets make long runs ("aaaa": overlapping pairs), many ties, and words of letters,
// digits and spaces that the pre-tokenizer splits apart.
TEST(BpeTrainerTest, MatchesBruteForceOnRandomCorpora) {
  std::mt19937 rng(1);
  const std::vector<std::string> alphabet = {"a", "b", "a", "b", "a", " ", "é", "1"};
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> length(0, 80);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::string> corpus(1 + trial % 4);
    for (std::string& text : corpus) {
      for (int n = length(rng); n > 0; --n) text += alphabet[pick(rng)];
    }
    const int vocab_size = kBase + trial % 60;
    const int64_t min_frequency = 1 + trial % 2;
    const BpeTrainResult result = Train(corpus, vocab_size, min_frequency);
    const std::vector<BruteForceMerge> expected =
        BruteForceTrain(corpus, vocab_size, min_frequency);
    std::vector<std::string> got, want;
    for (const auto& [left, right] : result.merges) got.push_back(left + " " + right);
    for (const BruteForceMerge& m : expected) {
      want.push_back(ByteLevelEncode(m.left) + " " + ByteLevelEncode(m.right));
    }
    ASSERT_EQ(got, want) << "trial " << trial;
  }
}

TEST(BpeTrainerTest, SpecialTokensComeFirstAsOpt) {
  const BpeTrainResult result = Train(ShapesCorpus(), kBase + 40);
  EXPECT_EQ(result.n_special, kSpecial);
  EXPECT_THAT(std::vector<std::string>(result.vocab.begin(), result.vocab.begin() + kSpecial),
              ElementsAre("<s>", "<pad>", "</s>", "<unk>"));
  // Then the bytes in byte order.
  EXPECT_EQ(result.vocab[kSpecial + 'a'], "a");
  EXPECT_EQ(result.vocab[kSpecial + ' '], "Ġ");
  const nlohmann::ordered_json json = ToHfTokenizerJson(result);
  ASSERT_EQ(json["added_tokens"].size(), 4u);
  for (int id = 0; id < kSpecial; ++id) {
    EXPECT_EQ(json["added_tokens"][id]["id"], id);
    EXPECT_EQ(json["added_tokens"][id]["content"], result.vocab[id]);
    EXPECT_EQ(json["added_tokens"][id]["special"], true);
    EXPECT_EQ(json["model"]["vocab"][result.vocab[id]], id);
  }
  EXPECT_EQ(json["post_processor"]["single"][0]["SpecialToken"]["id"], "</s>");
  EXPECT_EQ(json["post_processor"]["special_tokens"]["</s>"]["ids"][0], 2);
}

TEST(BpeTrainerTest, LoadsAsOptDirectory) {
  const ScratchDir dir("bpe_trainer");
  const int vocab_size = kBase + 80;  // the corpus has about 90 pairs seen twice or more
  const BpeTrainResult result = Train(ShapesCorpus(), vocab_size);
  ASSERT_EQ(result.vocab.size(), static_cast<size_t>(vocab_size));
  std::unique_ptr<Tokenizer> tok = WriteAndLoad(result, dir, /*with_config=*/true);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->family(), TokenizerFamily::kOpt);
  EXPECT_EQ(tok->vocab_size(), vocab_size);
  EXPECT_EQ(tok->bos_id(), 2);  // OPT prepends </s>
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 1);
  EXPECT_EQ(tok->special_tokens().unk_id, 3);
  EXPECT_TRUE(tok->special_tokens().add_bos);
  for (int id = 0; id < kSpecial; ++id) EXPECT_TRUE(tok->IsSpecial(id)) << id;
  EXPECT_FALSE(tok->IsSpecial(kSpecial));
  absl::StatusOr<std::vector<int>> prompt = tok->EncodeForPrompt("A red triangle");
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(prompt->front(), 2);
  // Every id is the one the trainer gave.
  for (int id = 0; id < vocab_size; ++id) EXPECT_EQ(tok->IdToPiece(id), result.vocab[id]);

  // tokenizer_config.json and special_tokens_map.json say the same as the template.
  absl::StatusOr<nlohmann::json> config = ReadJsonFile(dir.Path("tok/tokenizer_config.json"));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ((*config)["bos_token"], "</s>");
  EXPECT_EQ((*config)["add_bos_token"], true);
  EXPECT_TRUE(FileExists(dir.Path("tok/special_tokens_map.json")));
}

TEST(BpeTrainerTest, TokenizerJsonAloneIsGuessedOpt) {
  const ScratchDir dir("bpe_trainer");
  const BpeTrainResult result = Train(ShapesCorpus(), kBase + 50);
  ASSERT_TRUE(WriteTokenizerDir(result, dir.path()).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadHfTokenizerJson(dir.Path("tokenizer.json"));
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->family(), TokenizerFamily::kOpt);  // from <s>=0 </s>=2
  EXPECT_EQ((*tok)->bos_id(), 2);                      // from the post-processor
  EXPECT_TRUE((*tok)->special_tokens().add_bos);
}

TEST(BpeTrainerTest, RoundTripsCorpusAndUnseenText) {
  const ScratchDir dir("bpe_trainer");
  const std::vector<std::string> corpus = ShapesCorpus();
  std::unique_ptr<Tokenizer> tok = WriteAndLoad(Train(corpus, kBase + 120), dir, true);
  ASSERT_NE(tok, nullptr);
  std::vector<std::string> texts = corpus;
  texts.insert(texts.end(),
               {"naïve café, 日本語の三角形 🙂🔺", "tabs\tand\nnewlines\r\n  x",
                "  leading spaces", "<s> is text, not a token </s>", "", "Ω≈ç√∫"});
  for (const std::string& text : texts) {
    absl::StatusOr<std::vector<int>> ids = tok->Encode(text);
    ASSERT_TRUE(ids.ok());
    for (int id : *ids) EXPECT_FALSE(tok->IsSpecial(id)) << text;
    EXPECT_EQ(*tok->Decode(*ids), text);
  }
  // Invalid UTF-8 is still encoded losslessly: the tokens' bytes are the input.
  const std::string binary("\xff\xfe\x80 ok \xc3", 8);
  absl::StatusOr<std::vector<int>> ids = tok->Encode(binary);
  ASSERT_TRUE(ids.ok());
  std::string bytes;
  for (int id : *ids) bytes += std::string(*tok->TokenBytes(id, false));
  EXPECT_EQ(bytes, binary);
}

TEST(BpeTrainerTest, UnseenBytesFallBackToByteTokens) {
  const ScratchDir dir("bpe_trainer");
  std::unique_ptr<Tokenizer> tok = WriteAndLoad(Train(ShapesCorpus(), kBase + 120), dir, true);
  ASSERT_NE(tok, nullptr);
  const std::string text = "日本";  // no byte of it is in the corpus
  absl::StatusOr<std::vector<int>> ids = tok->Encode(text);
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    EXPECT_EQ((*ids)[i], kSpecial + static_cast<uint8_t>(text[i]));
  }
}

TEST(BpeTrainerTest, FrequentWordsBecomeOneToken) {
  const ScratchDir dir("bpe_trainer");
  std::unique_ptr<Tokenizer> tok = WriteAndLoad(Train(ShapesCorpus(), kBase + 200), dir, true);
  ASSERT_NE(tok, nullptr);
  for (const char* word : {" triangle", " circle", " hexagon", " the"}) {
    absl::StatusOr<std::vector<int>> ids = tok->Encode(word);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids->size(), 1u) << word;
    EXPECT_EQ(tok->IdToPiece(ids->front()), ByteLevelEncode(word));
  }
  // A word never seen is spelled from smaller pieces.
  EXPECT_GT(tok->Encode(" dodecahedron")->size(), 1u);
}

TEST(BpeTrainerTest, StopsWhenMergesRunOut) {
  // "ab" and " ab": merge a+b (twice), then Ġ+ab (once); then every word is one token.
  const BpeTrainResult result = Train({"ab ab"}, 100000, /*min_frequency=*/1);
  EXPECT_THAT(result.merges, ElementsAre(Pair("a", "b"), Pair("Ġ", "ab")));
  EXPECT_EQ(result.vocab.size(), static_cast<size_t>(kBase + 2));
  const BpeTrainResult empty = Train({}, 1000);
  EXPECT_EQ(empty.vocab.size(), static_cast<size_t>(kBase));
  EXPECT_TRUE(empty.merges.empty());
}

TEST(BpeTrainerTest, DeterministicAndIndependentOfTextOrder) {
  std::vector<std::string> corpus = ShapesCorpus();
  const std::string first = ToHfTokenizerJson(Train(corpus, kBase + 150)).dump();
  EXPECT_EQ(ToHfTokenizerJson(Train(corpus, kBase + 150)).dump(), first);
  std::reverse(corpus.begin(), corpus.end());
  EXPECT_EQ(ToHfTokenizerJson(Train(corpus, kBase + 150)).dump(), first);
}

TEST(BpeTrainerTest, NeverMergesIntoASpecialToken) {
  BpeTrainerOptions options;
  options.special_tokens = {"<s>", "<pad>", "</s>", "<unk>", "ab"};
  options.vocab_size = kBase + 1 + 5;
  options.min_frequency = 1;
  absl::StatusOr<BpeTrainResult> result = TrainByteLevelBpe({"ab ab ab cd cd"}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  // "ab" (a+b: 3) is a special token, so a+b is passed over; the rest tie at 2 and go in byte
  // order (" " sorts before " a"). Then only a+b is left: merges stop short of vocab_size.
  EXPECT_THAT(result->merges,
              ElementsAre(Pair("Ġ", "a"), Pair("Ġ", "c"), Pair("Ġa", "b"), Pair("Ġc", "d")));
  EXPECT_EQ(std::count(result->vocab.begin(), result->vocab.end(), "ab"), 1);
  EXPECT_EQ(result->vocab.size(), static_cast<size_t>(kBase + 1 + 4));
}

TEST(BpeTrainerTest, Gpt2StyleLayoutWithoutBos) {
  BpeTrainerOptions options;
  options.vocab_size = 257 + 30;
  options.special_tokens = {"<|endoftext|>"};
  options.roles = {"<|endoftext|>", "<|endoftext|>", "", "<|endoftext|>", /*add_bos=*/false};
  absl::StatusOr<BpeTrainResult> result = TrainByteLevelBpe(ShapesCorpus(), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(ToHfTokenizerJson(*result)["post_processor"]["type"], "ByteLevel");
  const ScratchDir dir("bpe_trainer");
  ASSERT_TRUE(WriteTokenizerDir(*result, dir.path()).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(dir.path());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->family(), TokenizerFamily::kGpt2);
  EXPECT_EQ((*tok)->eos_id(), 0);
  EXPECT_FALSE((*tok)->special_tokens().add_bos);
  EXPECT_EQ((*tok)->vocab_size(), 257 + 30);
}

TEST(BpeTrainerTest, RejectsBadOptions) {
  auto error = [](const BpeTrainerOptions& options) {
    return TrainByteLevelBpe({"text"}, options).status().code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  BpeTrainerOptions small;
  small.vocab_size = kBase - 1;
  EXPECT_EQ(error(small), kInvalid);
  BpeTrainerOptions min_zero;
  min_zero.min_frequency = 0;
  EXPECT_EQ(error(min_zero), kInvalid);
  BpeTrainerOptions repeated;
  repeated.special_tokens = {"<s>", "<pad>", "</s>", "<unk>", "<s>"};
  EXPECT_EQ(error(repeated), kInvalid);
  BpeTrainerOptions byte_symbol;  // would share "Ġ" with the space byte
  byte_symbol.special_tokens = {"<s>", "<pad>", "</s>", "<unk>", "Ġ"};
  EXPECT_EQ(error(byte_symbol), kInvalid);
  BpeTrainerOptions not_utf8;
  not_utf8.special_tokens = {"<s>", "<pad>", "</s>", "<unk>", "\xff"};
  EXPECT_EQ(error(not_utf8), kInvalid);
  BpeTrainerOptions unknown_role;
  unknown_role.roles.pad = "<mask>";
  EXPECT_EQ(error(unknown_role), kInvalid);
  BpeTrainerOptions bos_missing;
  bos_missing.roles.bos = "";
  EXPECT_EQ(error(bos_missing), kInvalid);
}

// A few megabytes of Zipf-distributed words: the incremental counts keep this to seconds (the
// brute-force trainer above would recount every pair for each of the 8000 merges).
TEST(BpeTrainerTest, TrainsMegabytesInSeconds) {
  std::mt19937 rng(7);
  std::vector<std::string> lexicon;
  std::uniform_int_distribution<int> letter('a', 'z'), length(2, 10);
  for (int i = 0; i < 20000; ++i) {
    std::string word;
    for (int n = length(rng); n > 0; --n) word += static_cast<char>(letter(rng));
    lexicon.push_back(word);
  }
  std::vector<double> weights;
  for (size_t i = 0; i < lexicon.size(); ++i) weights.push_back(1.0 / (i + 1));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::vector<std::string> texts;
  size_t total = 0;
  while (total < (4u << 20)) {
    std::string line;
    for (int w = 0; w < 12; ++w) line += (w ? " " : "") + lexicon[pick(rng)];
    line += ".\n";
    total += line.size();
    texts.push_back(std::move(line));
  }
  const auto start = std::chrono::steady_clock::now();
  const BpeTrainResult result = Train(texts, 8192);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained %zu bytes to %zu tokens in %.2f s\n", total, result.vocab.size(), seconds);
  EXPECT_EQ(result.vocab.size(), 8192u);
  EXPECT_LT(seconds, 60.0);  // generous: sanitizer and debug builds
}

}  // namespace
}  // namespace lmeye
