// The Snowball English ("Porter2") stemmer, as Meteor 1.5's stem module uses it
// (org.tartarus.snowball.ext.englishStemmer, with the gener/commun/arsen region exceptions).
// Words are expected lower-case (Meteor lower-cases before aligning); characters other than ASCII
// letters and the apostrophe count as consonants, as in the Java stemmer. Pure, thread-safe.
#pragma once

#include <string>

namespace lmeye::eval {

std::string SnowballEnglishStem(const std::string& word);

}  // namespace lmeye::eval
