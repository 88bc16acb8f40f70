#include "model/train/train_objective.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/train/clip_objective.h"
#include "model/train/ipn_objective.h"
#include "model/train/lm_objective.h"

namespace lmeye {
namespace {

constexpr size_t kMaxIssuesLogged = 20;

}  // namespace

void LogTrainLine(std::ostream* log, const std::string& line) {
  if (log != nullptr) *log << "lmeye train: " << line << std::endl;
}

std::vector<std::vector<int64_t>> EvalShardBatches(int64_t n, int rank, int world, int batch_size) {
  std::vector<std::vector<int64_t>> batches;
  for (int64_t i = rank; i < n; i += world) {
    if (batches.empty() || static_cast<int>(batches.back().size()) == batch_size) {
      batches.emplace_back();
    }
    batches.back().push_back(i);
  }
  return batches;
}

absl::Status ReportSkippedLines(const TrainConfig& config, const std::string& path, int n_lines,
                                const std::vector<std::pair<int, std::string>>& issues,
                                std::ostream* log) {
  std::set<int> skipped_lines;
  for (size_t i = 0; i < issues.size(); ++i) {
    skipped_lines.insert(issues[i].first);
    if (i < kMaxIssuesLogged) LogTrainLine(log, absl::StrCat("skipped ", issues[i].second));
  }
  if (issues.size() > kMaxIssuesLogged) {
    LogTrainLine(log, absl::StrCat("... and ", issues.size() - kMaxIssuesLogged, " more issues"));
  }
  const double skipped =
      n_lines == 0 ? 0.0 : static_cast<double>(skipped_lines.size()) / n_lines;
  if (skipped > config.max_skip_fraction) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: %d of %d lines skipped (%.1f%%), over max_skip_fraction %g", path,
        skipped_lines.size(), n_lines, 100 * skipped, config.max_skip_fraction));
  }
  LogTrainLine(log, absl::StrFormat("%s: %d lines, %d skipped", path, n_lines,
                                    skipped_lines.size()));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TrainObjective>> CreateTrainObjective(const TrainConfig& config,
                                                                     std::ostream* log,
                                                                     DataParallelGroup* group) {
  switch (config.stage) {
    case TrainStage::kAlign:
    case TrainStage::kInstruct: {
      absl::StatusOr<std::unique_ptr<IpnObjective>> ipn = IpnObjective::Create(config, log, group);
      if (!ipn.ok()) return ipn.status();
      return std::unique_ptr<TrainObjective>(std::move(*ipn));
    }
    case TrainStage::kClip: {
      absl::StatusOr<std::unique_ptr<ClipObjective>> clip = ClipObjective::Create(config, log);
      if (!clip.ok()) return clip.status();
      return std::unique_ptr<TrainObjective>(std::move(*clip));
    }
    case TrainStage::kLm: {
      absl::StatusOr<std::unique_ptr<LmObjective>> lm = LmObjective::Create(config, log);
      if (!lm.ok()) return lm.status();
      return std::unique_ptr<TrainObjective>(std::move(*lm));
    }
  }
  return absl::InvalidArgumentError("unknown stage");
}

}  // namespace lmeye
