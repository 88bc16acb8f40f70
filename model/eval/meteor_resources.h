// Meteor 1.5's English data, loaded once and shared read-only by any number of scorers/threads:
// the function-word list (content/function weighting), WordNet synsets and morphological
// exceptions (synonym module), and the non-breaking prefix list (normaliser). The files ship in
// model/eval/meteor/ (licences alongside); callers pass that directory, e.g.
// <install or source root>/model/eval/meteor.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "model/eval/meteor_normalizer.h"

namespace lmeye::eval {

class MeteorResources {
 public:
  // Reads <dir>/function-english.words, <dir>/synonym/english.{synsets,exceptions} and
  // <dir>/nonbreaking-english.prefixes. NotFound / DataLoss with the path on failure.
  static absl::StatusOr<std::unique_ptr<MeteorResources>> Load(const std::string& dir);

  // `word` must already be lower-case (the reference lower-cases before the lookup).
  bool IsFunctionWord(const std::string& word) const { return function_words_.count(word) > 0; }

  // SynonymDictionary.getSynSets(word) united with getStemSynSets(word) (exception-list bases,
  // else WordNet's suffix morphology), sorted and de-duplicated.
  std::vector<int> SynsetsWithMorphology(const std::string& word) const;

  const NonbreakingPrefixes& nonbreaking_prefixes() const { return prefixes_; }

 private:
  MeteorResources() = default;
  const std::vector<int>* Synsets(const std::string& word) const;
  std::string Morph(const std::string& word) const;

  std::unordered_set<std::string> function_words_;
  std::unordered_map<std::string, std::vector<int>> synsets_;
  std::unordered_map<std::string, std::vector<std::string>> exception_bases_;
  NonbreakingPrefixes prefixes_;
};

}  // namespace lmeye::eval
