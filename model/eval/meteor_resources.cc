#include "model/eval/meteor_resources.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open Meteor data file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Splits into lines the way BufferedReader.readLine does ("\n", "\r\n" or "\r").
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n' || c == '\r') {
      lines.push_back(std::move(current));
      current.clear();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) lines.push_back(std::move(current));
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  std::string field;
  while (in >> field) fields.push_back(field);
  return fields;
}

// WordNet 3 morphology as Meteor's SynonymDictionary.morph applies it.
constexpr const char* kSuffixes[] = {"s",   "ses", "xes", "zes", "ches", "shes", "men",
                                     "ies", "s",   "ies", "es",  "es",   "ed",   "ed",
                                     "ing", "ing", "er",  "est", "er",   "est"};
constexpr const char* kEndings[] = {"",  "s", "x", "z", "ch", "sh", "man", "y", "",  "y",
                                    "e", "",  "e", "",  "e",  "",   "",    "",  "e", "e"};

}  // namespace

absl::StatusOr<std::unique_ptr<MeteorResources>> MeteorResources::Load(const std::string& dir) {
  std::unique_ptr<MeteorResources> r(new MeteorResources());

  LMEYE_ASSIGN_OR_RETURN(const std::string words, ReadFile(dir + "/function-english.words"));
  for (std::string& line : Lines(words)) r->function_words_.insert(std::move(line));

  LMEYE_ASSIGN_OR_RETURN(const std::string exceptions,
                         ReadFile(dir + "/synonym/english.exceptions"));
  const std::vector<std::string> exc_lines = Lines(exceptions);
  if (exc_lines.size() % 2 != 0) {
    return absl::DataLossError(absl::StrCat(dir, "/synonym/english.exceptions: odd line count"));
  }
  for (size_t i = 0; i + 1 < exc_lines.size(); i += 2) {
    for (std::string& form : Fields(exc_lines[i + 1])) {
      r->exception_bases_[form].push_back(exc_lines[i]);
    }
  }

  LMEYE_ASSIGN_OR_RETURN(const std::string synsets, ReadFile(dir + "/synonym/english.synsets"));
  const std::vector<std::string> syn_lines = Lines(synsets);
  if (syn_lines.size() % 2 != 0) {
    return absl::DataLossError(absl::StrCat(dir, "/synonym/english.synsets: odd line count"));
  }
  r->synsets_.reserve(syn_lines.size() / 2);
  for (size_t i = 0; i + 1 < syn_lines.size(); i += 2) {
    std::vector<int> ids;
    const char* p = syn_lines[i + 1].c_str();
    char* end = nullptr;
    while (true) {
      const long id = std::strtol(p, &end, 10);
      if (end == p) break;
      ids.push_back(static_cast<int>(id));
      p = end;
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    r->synsets_[syn_lines[i]] = std::move(ids);  // a later entry replaces an earlier one (put)
  }

  LMEYE_ASSIGN_OR_RETURN(const std::string prefixes,
                         ReadFile(dir + "/nonbreaking-english.prefixes"));
  r->prefixes_ = ParseNonbreakingPrefixes(prefixes);
  return r;
}

const std::vector<int>* MeteorResources::Synsets(const std::string& word) const {
  const auto it = synsets_.find(word);
  return it == synsets_.end() ? nullptr : &it->second;
}

std::string MeteorResources::Morph(const std::string& word) const {
  const size_t length = DecodeUtf8(word).size();  // Java String.length()
  if ((word.size() >= 2 && word.compare(word.size() - 2, 2, "ss") == 0) || length <= 2) {
    return word;
  }
  for (size_t i = 0; i < std::size(kSuffixes); ++i) {
    const std::string suffix = kSuffixes[i];
    if (word.size() < suffix.size() ||
        word.compare(word.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string base = word.substr(0, word.size() - suffix.size()) + kEndings[i];
    if (Synsets(base) != nullptr) return base;
  }
  return "";
}

std::vector<int> MeteorResources::SynsetsWithMorphology(const std::string& word) const {
  std::vector<int> ids;
  if (const std::vector<int>* own = Synsets(word)) ids = *own;
  const auto bases = exception_bases_.find(word);
  if (bases != exception_bases_.end()) {
    for (const std::string& base : bases->second) {
      if (const std::vector<int>* s = Synsets(base)) ids.insert(ids.end(), s->begin(), s->end());
    }
  } else if (const std::vector<int>* s = Synsets(Morph(word))) {
    ids.insert(ids.end(), s->begin(), s->end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace lmeye::eval
