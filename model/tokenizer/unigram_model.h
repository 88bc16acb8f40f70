// SentencePiece's unigram segmentation (T5, Flan-T5, ALBERT, XLNet models): the most probable
// split of the normalized text into pieces, exactly as libsentencepiece 0.1.97 computes it
// (unigram_model.cc, Model::EncodeOptimized, the library's default encoder).
//
// The search: for each character start (by the UTF-8 lead byte), every NORMAL or USER_DEFINED
// piece that prefixes the rest extends the best path ending there, with the piece's score
// (a user-defined piece scores byte_length * max_score - 0.1, so that it always wins); where no
// piece covers exactly that one character, an unknown node with min_score - kUnkPenalty does.
// UNUSED pieces are never produced. Ties keep the first candidate. The arithmetic follows the
// library's types (piece candidates summed and compared in double, stored as float; unknown
// candidates in float), since a different rounding can flip the choice between equal-scored
// splits. min_score and max_score are over NORMAL pieces only, starting from FLT_MAX and FLT_MIN
// as in the library.
//
// Merging runs of unknown pieces and byte fallback happen afterwards, in SpmModel, as for BPE.
//
// Threading: immutable after Create(); every const method may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/tokenizer/spm_model_proto.h"

namespace lmeye {

// A piece as segmentation returns it: a view into the normalized text, and its id.
struct SpmSegment {
  absl::string_view piece;
  int id;
};

class SpmUnigram {
 public:
  // unigram_model.h kUnkPenalty.
  static constexpr float kUnkPenalty = 10.0f;

  // `pieces`, `scores` and `types` are indexed by id; `unk_id` is the UNKNOWN piece. Only
  // NORMAL, USER_DEFINED and UNUSED pieces are looked up in the text (the library's trie).
  // InvalidArgument when there are none (the library's "no entry is found in the trie") or
  // when one contains a NUL byte (the library's trie would silently cut the key there).
  static absl::StatusOr<SpmUnigram> Create(absl::Span<const std::string> pieces,
                                           absl::Span<const float> scores,
                                           absl::Span<const SpmPieceType> types, int unk_id);

  SpmUnigram(SpmUnigram&&) = default;
  SpmUnigram& operator=(SpmUnigram&&) = default;

  // The best segmentation of `normalized`; views into it. Empty for empty text.
  std::vector<SpmSegment> Segment(absl::string_view normalized) const;

  // The score the library's self-test compares (VerifyOutputsEquivalent) for a piece of `id`
  // spelled in `length` bytes: an unknown id gets the unknown score. The total of a sequence is
  // accumulated in float, each term added as this double.
  double PieceScore(int id, size_t length) const;

  float min_score() const { return min_score_; }
  float max_score() const { return max_score_; }

 private:
  // A byte trie over the pieces, children of a node in one sorted run of `edges_`.
  struct Node {
    uint32_t first_edge = 0;
    uint32_t n_edges = 0;
    int id = -1;  // the piece that ends here, -1 if none
  };
  struct Edge {
    unsigned char byte;
    uint32_t child;
  };

  SpmUnigram() = default;
  int Child(int node, unsigned char byte) const;  // -1 when absent

  std::vector<Node> nodes_;  // nodes_[0] is the root
  std::vector<Edge> edges_;
  std::vector<float> scores_;
  std::vector<SpmPieceType> types_;
  int unk_id_ = -1;
  float min_score_ = 0.0f;
  float max_score_ = 0.0f;
};

}  // namespace lmeye
