// Where tests find their data: $LMEYE_TEST_DATA (set by ctest to <source>/tests/data).
#pragma once

#include <cstdlib>
#include <string>

namespace lmeye::testing {

inline std::string TestDataDir() {
  const char* dir = std::getenv("LMEYE_TEST_DATA");
  return dir != nullptr ? dir : "tests/data";
}

// TestData("models/opt-tiny") -> "<source>/tests/data/models/opt-tiny".
inline std::string TestData(const std::string& relative) { return TestDataDir() + "/" + relative; }

}  // namespace lmeye::testing
