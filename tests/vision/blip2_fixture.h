// The lingcloud-blip2-tiny fixture as the BLIP-2 image-side tests read it: the blip2/ checkpoint,
// lmeye_checkpoint.pth, golden.safetensors and the samples listed in golden.json.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/common/file_util.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye::testing {

inline std::string Blip2FixtureDir() { return TestData("models/lingcloud-blip2-tiny"); }
inline std::string Blip2Dir() { return Blip2FixtureDir() + "/blip2"; }
inline std::string LmeyePth() { return Blip2FixtureDir() + "/lmeye_checkpoint.pth"; }

struct Blip2Sample {
  std::string name;   // "s0": prefix of its goldens
  std::string image;  // path under tests/data/images
};

// golden.json samples[*]: every sample the fixture has goldens for.
inline std::vector<Blip2Sample> Blip2Samples() {
  std::vector<Blip2Sample> out;
  auto json = ReadJsonFile(Blip2FixtureDir() + "/golden.json");
  EXPECT_TRUE(json.ok()) << json.status();
  if (!json.ok()) return out;
  for (const auto& s : (*json)["samples"]) {
    out.push_back(
        {s["sample"].get<std::string>(), TestData("images/" + s["image"].get<std::string>())});
  }
  EXPECT_FALSE(out.empty());
  return out;
}

inline at::Tensor Blip2Golden(const std::string& name) {
  return LoadGolden(Blip2FixtureDir(), name);
}

// Max |a - b| in float64, for the logs.
inline double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace lmeye::testing
