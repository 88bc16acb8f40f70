// Loads tests/data/metrics/cases.json (reference outputs of the official evaluation code).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/common/test_data.h"

namespace lmeye::eval::testing {

inline const nlohmann::json& MetricCases() {
  static const nlohmann::json* cases = [] {
    std::ifstream in(lmeye::testing::TestData("metrics/cases.json"));
    std::stringstream buffer;
    buffer << in.rdbuf();
    return new nlohmann::json(nlohmann::json::parse(buffer.str()));
  }();
  return *cases;
}

}  // namespace lmeye::eval::testing
