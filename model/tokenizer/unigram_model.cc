#include "model/tokenizer/unigram_model.h"

#include <algorithm>
#include <cfloat>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lmeye {
namespace {

// The library's OneCharLen: the lead byte alone decides, valid or not.
int OneCharLen(char lead) {
  static constexpr int kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[static_cast<unsigned char>(lead) >> 4];
}

bool InTrie(SpmPieceType type) {
  return type == SpmPieceType::kNormal || type == SpmPieceType::kUserDefined ||
         type == SpmPieceType::kUnused;
}

}  // namespace

absl::StatusOr<SpmUnigram> SpmUnigram::Create(absl::Span<const std::string> pieces,
                                              absl::Span<const float> scores,
                                              absl::Span<const SpmPieceType> types, int unk_id) {
  SpmUnigram model;
  model.scores_.assign(scores.begin(), scores.end());
  model.types_.assign(types.begin(), types.end());
  model.unk_id_ = unk_id;
  // FLT_MIN (the smallest positive float), not -FLT_MAX: the library's starting value, which
  // matters for a model whose NORMAL scores are all negative (user-defined pieces then score
  // about -0.1).
  model.min_score_ = FLT_MAX;
  model.max_score_ = FLT_MIN;
  std::vector<std::pair<absl::string_view, int>> keys;
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (types[id] == SpmPieceType::kNormal) {
      model.min_score_ = std::min(model.min_score_, scores[id]);
      model.max_score_ = std::max(model.max_score_, scores[id]);
    }
    if (!InTrie(types[id])) continue;
    if (pieces[id].find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid SentencePiece model: piece ", id, " contains a NUL byte"));
    }
    keys.emplace_back(pieces[id], static_cast<int>(id));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "invalid SentencePiece model: a unigram model needs NORMAL or USER_DEFINED pieces");
  }
  std::sort(keys.begin(), keys.end());

  // Breadth first, so that the edges of one node are appended together. Each entry: a node and
  // the sorted keys [begin, end) below it, which share their first `depth` bytes.
  struct Pending {
    uint32_t node;
    size_t begin, end, depth;
  };
  model.nodes_.emplace_back();
  std::deque<Pending> queue = {{0, 0, keys.size(), 0}};
  while (!queue.empty()) {
    const Pending p = queue.front();
    queue.pop_front();
    size_t i = p.begin;
    if (keys[i].first.size() == p.depth) model.nodes_[p.node].id = keys[i++].second;  // sorts first
    model.nodes_[p.node].first_edge = static_cast<uint32_t>(model.edges_.size());
    while (i < p.end) {
      const char byte = keys[i].first[p.depth];
      size_t j = i + 1;
      while (j < p.end && keys[j].first[p.depth] == byte) ++j;
      const auto child = static_cast<uint32_t>(model.nodes_.size());
      model.nodes_.emplace_back();
      model.edges_.push_back({static_cast<unsigned char>(byte), child});
      ++model.nodes_[p.node].n_edges;
      queue.push_back({child, i, j, p.depth + 1});
      i = j;
    }
  }
  return model;
}

int SpmUnigram::Child(int node, unsigned char byte) const {
  const Node& n = nodes_[node];
  const auto begin = edges_.begin() + n.first_edge;
  const auto end = begin + n.n_edges;
  const auto it =
      std::lower_bound(begin, end, byte, [](const Edge& e, unsigned char b) { return e.byte < b; });
  return it != end && it->byte == byte ? static_cast<int>(it->child) : -1;
}

double SpmUnigram::PieceScore(int id, size_t length) const {
  if (id == unk_id_) return min_score_ - kUnkPenalty;
  if (types_[id] == SpmPieceType::kUserDefined) {
    return static_cast<float>(length) * max_score_ - 0.1;
  }
  return scores_[id];
}

std::vector<SpmSegment> SpmUnigram::Segment(absl::string_view normalized) const {
  if (normalized.empty()) return {};
  // The best path ending at each byte offset: its last piece and where that piece starts.
  struct BestPath {
    int id = -1;
    float score = 0.0f;
    int start = -1;  // -1: no path ends here yet
  };
  const int size = static_cast<int>(normalized.size());
  const float unk_score = min_score_ - kUnkPenalty;
  std::vector<BestPath> best(size + 1);
  for (int start = 0; start < size;) {
    const float score_here = best[start].score;
    const int char_length = std::min(OneCharLen(normalized[start]), size - start);
    bool covers_one_char = false;
    int node = 0;
    for (int end = start; end < size;) {
      node = Child(node, static_cast<unsigned char>(normalized[end]));
      if (node < 0) break;
      ++end;
      const int id = nodes_[node].id;
      if (id < 0 || types_[id] == SpmPieceType::kUnused) continue;
      const int length = end - start;
      // As the library: the piece score is a double (the user-defined branch makes it one),
      // so the sum and the comparison are in double and only the stored best is a float.
      const double candidate =
          (types_[id] == SpmPieceType::kUserDefined
               ? static_cast<double>(static_cast<float>(length) * max_score_) - 0.1
               : static_cast<double>(scores_[id])) +
          score_here;
      BestPath& target = best[end];
      if (target.start == -1 || candidate > target.score) {
        target = {id, static_cast<float>(candidate), start};
      }
      if (length == char_length) covers_one_char = true;
    }
    if (!covers_one_char) {
      BestPath& target = best[start + char_length];
      const float candidate = unk_score + score_here;
      if (target.start == -1 || candidate > target.score) {
        target = {unk_id_, candidate, start};
      }
    }
    start += char_length;
  }

  std::vector<SpmSegment> out;
  for (int end = size; end > 0;) {
    const BestPath& node = best[end];
    // Every character boundary, and so the end, is reached (by a piece or an unknown node).
    out.push_back({normalized.substr(node.start, end - node.start), node.id});
    end = node.start;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace lmeye
