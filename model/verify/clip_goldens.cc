// Placeholder until the clip model code lands: recognises nothing.
#include "model/verify/golden.h"

namespace lmeye {
namespace {

class PendingClipRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "clip (not implemented)"; }
  bool Handles(const GoldenSet&) const override { return false; }
  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet&) const override {
    return absl::UnimplementedError("clip goldens");
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeClipGoldenRecomputer() {
  return std::make_unique<PendingClipRecomputer>();
}

}  // namespace lmeye
