#include "model/train/matching_data.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"

namespace lmeye {
namespace {

namespace fs = std::filesystem;

constexpr char kLetters[] = "ABCD";

ManifestRecord Question(const ManifestRecord& source, std::string question, std::string answer) {
  ManifestRecord r;
  r.line = source.line;
  r.image = source.image;
  r.conversation = {{ChatRole::kHuman, std::move(question)},
                    {ChatRole::kAssistant, std::move(answer)}};
  return r;
}

}  // namespace

absl::StatusOr<std::vector<ManifestRecord>> BuildMatchingRecords(const Manifest& captions,
                                                                 const MatchingOptions& options) {
  std::vector<const ManifestRecord*> pool;
  std::set<std::string> distinct;
  for (const ManifestRecord& r : captions.records) {
    if (!r.is_caption()) continue;
    pool.push_back(&r);
    distinct.insert(r.caption);
  }
  const size_t needed = options.four_choice ? 4 : 2;
  if (distinct.size() < needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        captions.path, ": ", distinct.size(), " distinct captions; matching data needs ", needed));
  }
  std::mt19937_64 rng(options.seed);
  // A caption of another image that differs from every text in `taken`; nullopt when random
  // draws keep failing (a caption set dominated by one image), so that record is skipped.
  auto other = [&](const ManifestRecord& self,
                   const std::set<std::string>& taken) -> std::optional<std::string> {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const ManifestRecord* r = pool[rng() % pool.size()];
      if (r->image != self.image && taken.count(r->caption) == 0) return r->caption;
    }
    return std::nullopt;
  };
  std::vector<ManifestRecord> out;
  for (const ManifestRecord* r : pool) {
    if (options.true_false) {
      const bool truth = rng() % 2 == 0;
      const std::optional<std::string> wrong = truth ? std::nullopt : other(*r, {r->caption});
      if (truth || wrong.has_value()) {
        const std::string shown = truth ? r->caption : *wrong;
        out.push_back(Question(*r,
                               absl::StrCat("Is the following sentence a correct description of "
                                            "this image? \"",
                                            shown, "\" Answer True or False."),
                               truth ? "True" : "False"));
      }
    }
    if (options.four_choice) {
      std::set<std::string> taken = {r->caption};
      std::vector<std::string> choices = {r->caption};
      for (int k = 0; k < 3; ++k) {
        std::optional<std::string> c = other(*r, taken);
        if (!c.has_value()) break;
        choices.push_back(*c);
        taken.insert(*c);
      }
      if (choices.size() < 4) continue;
      const int answer = static_cast<int>(rng() % 4);
      std::swap(choices[0], choices[answer]);
      std::string question = "Which of the following sentences describes this image?";
      for (int k = 0; k < 4; ++k) {
        absl::StrAppend(&question, "\n", std::string(1, kLetters[k]), ". ", choices[k]);
      }
      absl::StrAppend(&question, "\nAnswer with the letter.");
      out.push_back(Question(*r, std::move(question), std::string(1, kLetters[answer])));
    }
  }
  return out;
}

absl::Status WriteManifest(const std::string& path, const std::vector<ManifestRecord>& records) {
  std::error_code ec;
  const fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  std::string out;
  {
    for (const ManifestRecord& r : records) {
      nlohmann::json j;
      // Relative when the image lies under the manifest's directory (the pair moves together),
      // absolute otherwise.
      const fs::path image = fs::absolute(r.image, ec).lexically_normal();
      const fs::path rel = image.lexically_relative(dir);
      j["image"] = rel.empty() || *rel.begin() == ".." ? image.string() : rel.string();
      if (r.is_vqa()) {
        j["question"] = r.question;
        j["answer"] = r.answer;
      } else if (r.is_caption()) {
        j["caption"] = r.caption;
        // Kept, so that a caption manifest written here reads back whole.
        if (!r.negatives.empty()) j["negatives"] = r.negatives;
        if (!r.labels.empty()) j["labels"] = r.labels;
      } else {
        nlohmann::json turns = nlohmann::json::array();
        for (const ChatMessage& m : r.conversation) {
          turns.push_back(
              {{"from", m.role == ChatRole::kHuman ? "human" : "gpt"}, {"value", m.text}});
        }
        j["conversations"] = turns;
      }
      absl::StrAppend(&out, j.dump(), "\n");
    }
  }
  return WriteFileAtomically(path, out);
}

}  // namespace lmeye
