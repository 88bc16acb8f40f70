// Placeholder until the lmeye model code lands: recognises nothing.
#include "model/verify/golden.h"

namespace lmeye {
namespace {

class PendingLmeyeRecomputer : public GoldenRecomputer {
 public:
  absl::string_view name() const override { return "lmeye (not implemented)"; }
  bool Handles(const GoldenSet&) const override { return false; }
  absl::StatusOr<std::vector<GoldenCheck>> Recompute(const GoldenSet&) const override {
    return absl::UnimplementedError("lmeye goldens");
  }
};

}  // namespace

std::unique_ptr<GoldenRecomputer> MakeLmeyeGoldenRecomputer() {
  return std::make_unique<PendingLmeyeRecomputer>();
}

}  // namespace lmeye
