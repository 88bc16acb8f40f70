// The tests' one way to hold a tensor to a golden (or to a reference computed another way):
// model/common/golden_tolerance.h's rule, as a gtest assertion whose failure message gives the
// difference, the bound and the scale.
//   EXPECT_TRUE(MatchesGolden(out->logits, golden, mask)) << "a_left.logits";
#pragma once

#include <cstdio>
#include <string>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/common/golden_tolerance.h"
#include "model/io/safetensors.h"

namespace lmeye::testing {

inline ::testing::AssertionResult MatchesGolden(const at::Tensor& actual, const at::Tensor& golden,
                                                const at::Tensor& mask = {},
                                                double relative = kGoldenRelativeTolerance) {
  if (!actual.defined() || !golden.defined()) {
    return ::testing::AssertionFailure() << "undefined tensor";
  }
  const GoldenComparison c = CompareToGolden(actual, golden, mask, relative);
  if (!c.same_shape) {
    return ::testing::AssertionFailure()
           << "shape " << actual.sizes() << " != golden " << golden.sizes();
  }
  return (c.ok() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure()) << c.Describe();
}

// Prints the comparison (the suites log every golden's difference) and expects it to hold.
inline void ExpectMatchesGolden(const std::string& name, const at::Tensor& actual,
                                const at::Tensor& golden, const at::Tensor& mask = {}) {
  const GoldenComparison c = CompareToGolden(actual, golden, mask);
  std::printf("%-44s %s\n", name.c_str(), c.Describe().c_str());
  EXPECT_TRUE(MatchesGolden(actual, golden, mask)) << name;
}

// One tensor of DIR/golden.safetensors (an undefined tensor, and a failed expectation, if absent).
inline at::Tensor LoadGolden(const std::string& dir, const std::string& name) {
  auto file = SafetensorsFile::Open(dir + "/golden.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return at::Tensor();
  auto t = (*file)->Load(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : at::Tensor();
}

}  // namespace lmeye::testing
