// How an LMEye model directory is loaded, whatever its layout (lmeye_model.h,
// lingcloud_v01_model.h): the compute dtype and device of every tower.
#pragma once

#include <ATen/ATen.h>

namespace lmeye {

struct LmeyeLoadOptions {
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  // The LLM's linear weights as int8 (LlmLoadOptions::int8_weights); decoder-only LLMs only.
  bool int8_weights = false;
};

}  // namespace lmeye
