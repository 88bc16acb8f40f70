// `adapter.json`: the options of an IPN adapter and where its frozen backbones live.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace lmeye {

enum class IpnCombine {
  kReplace,  // h_d replaces the <img-d> embedding (the paper)
  kAdd,      // h_d is added to ipn.imgd_token (the reference code)
};

enum class IpnImageFeature {
  kPooled,     // h_I = CLIP vision pooler_output (post-layernorm CLS), width d_v = vision hidden
  kProjected,  // h_I = visual_projection(pooler_output), width = CLIP projection_dim
};

struct IpnAdapterConfig {
  int version = 1;
  int num_fine = 5;  // K: rows h_I is decomposed into for the interaction
  IpnCombine combine = IpnCombine::kReplace;
  bool text_projection = false;  // transmit consumes text_projection(o) instead of o
  IpnImageFeature image_feature = IpnImageFeature::kPooled;
  bool interaction_positions = true;  // add CLIP text position embeddings to the K+2 rows
  // Backbone directories, relative to the LMEye model directory.
  std::string vision = "clip";
  std::string text = "clip";
  std::string llm = "llm";

  // Checks option values (num_fine >= 1, relative backbone paths...).
  absl::Status Validate() const;
  // InvalidArgument when the K + 2 interaction rows need more position embeddings than a text
  // tower with `text_positions` has (only with interaction_positions).
  absl::Status CheckTextPositions(int64_t text_positions) const;
};

// Parses adapter.json text. Unknown keys are an error (a typo must not silently mean a default).
absl::StatusOr<IpnAdapterConfig> ParseIpnAdapterConfig(const std::string& json_text);
absl::StatusOr<IpnAdapterConfig> ReadIpnAdapterConfig(const std::string& path);
std::string IpnAdapterConfigToJson(const IpnAdapterConfig& config);

}  // namespace lmeye
