// Placeholder until the llm model code lands: recognises nothing.
#include "model/verify/golden.h"

namespace lmeye {
namespace {

class PendingLlmRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "llm (not implemented)"; }
  bool Handles(const GoldenSet&) const override { return false; }
  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet&) const override {
    return absl::UnimplementedError("llm goldens");
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeLlmGoldenRecomputer() {
  return std::make_unique<PendingLlmRecomputer>();
}

}  // namespace lmeye
