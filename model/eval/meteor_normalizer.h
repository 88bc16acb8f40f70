// Meteor 1.5's English text normalisation (edu.cmu.meteor.util.Normalizer.normalizeLine with
// keepPunctuation, i.e. the "-norm" flag the COCO toolkit passes): separates punctuation, escapes
// and restores runs of dots, splits commas outside numbers, normalises quotes and dashes, splits
// hyphens between alphanumerics, splits English contractions, handles word-final periods with the
// non-breaking prefix list (and drops dots of mixed acronyms: U.S. -> US), normalises whitespace.
// Lower-casing is a separate step (MeteorScorer lower-cases after normalising).
#pragma once

#include <string>
#include <unordered_map>

namespace lmeye::eval {

// Meteor's nonbreaking_prefix table: prefix -> true when it is non-breaking only before a number
// (#NUMERIC_ONLY#).
using NonbreakingPrefixes = std::unordered_map<std::string, bool>;

// Parses Meteor's nonbreaking prefix file format (comments '#', "<prefix> [#NUMERIC_ONLY#]").
NonbreakingPrefixes ParseNonbreakingPrefixes(const std::string& contents);

// normalizeLine(line, LANG_EN, keepPunctuation = true). Thread-safe.
std::string MeteorNormalize(const std::string& line, const NonbreakingPrefixes& prefixes);

}  // namespace lmeye::eval
