#include "model/tokenizer/spm_model.h"

#include <cmath>
#include <limits>
#include <queue>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

constexpr absl::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581 "▁"
constexpr absl::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // the library only knows the "<0x%02X>" spelling: upper case
}

// The byte of a "<0xNN>" piece, or -1.
int PieceToByte(absl::string_view piece) {
  if (piece.size() != 6 || !absl::StartsWith(piece, "<0x") || piece[5] != '>') return -1;
  const int hi = HexDigit(piece[3]), lo = HexDigit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string ByteToPiece(uint8_t byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
}

absl::Status ModelError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid SentencePiece model: ", what));
}

}  // namespace

absl::StatusOr<SpmModel> SpmModel::FromSerialized(absl::string_view serialized) {
  LMEYE_ASSIGN_OR_RETURN(SpmModelProto proto, ParseSpmModelProto(serialized));
  return FromProto(std::move(proto));
}

absl::StatusOr<SpmModel> SpmModel::FromProto(SpmModelProto proto) {
  SpmModel model;
  LMEYE_RETURN_IF_ERROR(model.Init(std::move(proto)));
  return model;
}

absl::Status SpmModel::Init(SpmModelProto proto) {
  // Any bytes that happen to parse as protobuf would otherwise fail on the model type below.
  if (proto.pieces.empty()) return ModelError("no pieces");
  const SpmTrainerSpecProto& trainer = proto.trainer_spec;
  const auto model_type = static_cast<SpmModelType>(trainer.model_type);
  switch (model_type) {
    case SpmModelType::kBpe:
    case SpmModelType::kUnigram:
      break;
    case SpmModelType::kWord:
    case SpmModelType::kChar:
      return absl::UnimplementedError(absl::StrCat("SentencePiece model type ",
                                                   trainer.model_type == 3 ? "WORD" : "CHAR",
                                                   " is not supported (only BPE and UNIGRAM)"));
    default:
      return ModelError(absl::StrCat("unknown model_type ", trainer.model_type));
  }
  if (proto.has_denormalizer_spec && !proto.denormalizer_spec.precompiled_charsmap.empty()) {
    // Only models trained with a denormalization rule file have one; T5's and LLaMA's do not.
    return absl::UnimplementedError(
        absl::StrCat("SentencePiece denormalizer \"", proto.denormalizer_spec.name,
                     "\" has a character map; decoding with a denormalizer is not supported"));
  }
  if (!proto.normalizer_spec.precompiled_charsmap.empty()) {
    absl::StatusOr<SpmCharsMap> charsmap =
        SpmCharsMap::Create(proto.normalizer_spec.precompiled_charsmap);
    if (!charsmap.ok()) {
      return ModelError(absl::StrCat("normalizer \"", proto.normalizer_spec.name,
                                     "\": ", charsmap.status().message()));
    }
    charsmap_ = std::move(charsmap).value();
  }

  // The checks of the library's ModelInterface::InitializePieces, in its order.
  const int n = static_cast<int>(proto.pieces.size());
  pieces_.reserve(n);
  scores_.reserve(n);
  types_.reserve(n);
  std::vector<std::string> user_defined;
  std::array<bool, 256> byte_found{};
  byte_ids_.fill(-1);
  for (int id = 0; id < n; ++id) {
    SpmPieceProto& p = proto.pieces[id];
    if (p.piece.empty()) return ModelError(absl::StrCat("piece ", id, " is empty"));
    // A NaN score would break the merge order (the heap needs a strict weak ordering).
    if (std::isnan(p.score)) return ModelError(absl::StrCat("piece ", id, " has a NaN score"));
    const bool mergeable = p.type == SpmPieceType::kNormal ||
                           p.type == SpmPieceType::kUserDefined || p.type == SpmPieceType::kUnused;
    if (!(mergeable ? mergeable_ : reserved_).emplace(p.piece, id).second) {
      return ModelError(absl::StrCat("piece \"", p.piece, "\" is defined twice"));
    }
    switch (p.type) {
      case SpmPieceType::kUserDefined:
        user_defined.push_back(p.piece);
        break;
      case SpmPieceType::kUnused:
        has_unused_ = true;
        break;
      case SpmPieceType::kUnknown:
        if (unknown_piece_id_ >= 0) return ModelError("more than one UNKNOWN piece");
        unknown_piece_id_ = id;
        break;
      case SpmPieceType::kByte: {
        if (!trainer.byte_fallback) {
          return ModelError(absl::StrCat("byte piece ", p.piece, " without byte_fallback"));
        }
        const int byte = PieceToByte(p.piece);
        if (byte < 0) return ModelError(absl::StrCat("byte piece ", p.piece, " is not <0xNN>"));
        byte_found[byte] = true;
        byte_ids_[byte] = id;
        break;
      }
      default:
        break;
    }
    pieces_.push_back(std::move(p.piece));
    scores_.push_back(p.score);
    types_.push_back(p.type);
  }
  if (unknown_piece_id_ < 0) return ModelError("no UNKNOWN piece (<unk>)");
  byte_fallback_ = trainer.byte_fallback;
  if (byte_fallback_) {
    for (bool found : byte_found) {
      if (!found) return ModelError("byte_fallback without all 256 <0xNN> pieces");
    }
  }
  user_symbols_ = SpmSymbolMatcher(user_defined);
  if (model_type == SpmModelType::kUnigram) {
    LMEYE_ASSIGN_OR_RETURN(unigram_,
                           SpmUnigram::Create(pieces_, scores_, types_, unknown_piece_id_));
  }

  const SpmNormalizerSpecProto& norm = proto.normalizer_spec;
  normalizer_options_.add_dummy_prefix = norm.add_dummy_prefix;
  normalizer_options_.remove_extra_whitespaces = norm.remove_extra_whitespaces;
  normalizer_options_.escape_whitespaces = norm.escape_whitespaces;
  normalizer_options_.treat_whitespace_as_suffix = trainer.treat_whitespace_as_suffix;
  unk_surface_ = trainer.unk_surface;
  unk_id_ = SpecialId(trainer.unk_piece, "<unk>", SpmPieceType::kUnknown);
  bos_id_ = SpecialId(trainer.bos_piece, "<s>", SpmPieceType::kControl);
  eos_id_ = SpecialId(trainer.eos_piece, "</s>", SpmPieceType::kControl);
  pad_id_ = SpecialId(trainer.pad_piece, "<pad>", SpmPieceType::kControl);
  return RunSelfTest(proto.self_test);
}

int SpmModel::SpecialId(absl::string_view name, absl::string_view fallback,
                        SpmPieceType type) const {
  const int id = PieceToId(name.empty() ? fallback : name);
  return TypeIs(id, type) ? id : -1;
}

// A model may carry samples with their expected pieces; the library refuses to load a model
// that does not reproduce them, and so do we.
absl::Status SpmModel::RunSelfTest(const std::vector<SpmSelfTestSample>& samples) const {
  int failures = 0;
  std::string first_failure;
  for (const SpmSelfTestSample& sample : samples) {
    std::vector<int> ids;
    std::vector<std::string> pieces;
    LMEYE_RETURN_IF_ERROR(EncodeInternal(sample.input, &ids, &pieces));
    const std::string got = absl::StrJoin(pieces, " ");
    if (!SelfTestPasses(sample.expected, got)) {
      if (failures++ == 0) {
        first_failure = absl::StrCat("\"", sample.input, "\" gives \"", got, "\", expected \"",
                                     sample.expected, "\"");
      }
    }
  }
  if (failures == 0) return absl::OkStatus();
  return ModelError(absl::StrCat(failures, " of ", samples.size(), " self-test samples fail, e.g. ",
                                 first_failure));
}

bool SpmModel::SelfTestPasses(const std::string& expected, const std::string& got) const {
  if (!unigram_.has_value()) return expected == got;
  auto total = [&](absl::string_view pieces) {
    float score = 0.0f;  // the library sums in float
    for (absl::string_view piece : absl::StrSplit(pieces, ' ')) {
      score += unigram_->PieceScore(PieceToId(piece), piece.size());
    }
    return score;
  };
  return std::abs(total(expected) - total(got)) <= 1e-7f;
}

const std::string& SpmModel::IdToPiece(int id) const {
  static const std::string* const kEmpty = new std::string;
  return id >= 0 && id < piece_size() ? pieces_[id] : *kEmpty;
}

int SpmModel::PieceToId(absl::string_view piece) const {
  if (auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
  if (auto it = mergeable_.find(piece); it != mergeable_.end()) return it->second;
  return unknown_piece_id_;
}

float SpmModel::GetScore(int id) const { return id >= 0 && id < piece_size() ? scores_[id] : 0.0f; }

std::vector<SpmModel::Segment> SpmModel::SegmentBpe(absl::string_view normalized) const {
  // A symbol of the doubly linked list; merging empties the right one.
  struct Symbol {
    int prev;     // -1 at the start
    int next;     // -1 at the end
    bool freeze;  // a user-defined symbol: never merged
    absl::string_view piece;
  };
  // A candidate merge. It goes stale when either side has changed since, which shows as an
  // empty side or a different total length (symbols only grow).
  struct Candidate {
    float score;
    int left;
    int right;
    uint32_t size;  // 16 bytes in all: the heap is the hot data on long texts
  };
  // Highest score first; on ties the leftmost (the library's SymbolPairComparator).
  struct Lower {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };

  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  for (absl::string_view rest = normalized; !rest.empty();) {
    Symbol s;
    const size_t length = user_symbols_.PrefixMatch(rest, &s.freeze);
    s.piece = rest.substr(0, length);
    const int index = static_cast<int>(symbols.size());
    s.prev = index - 1;
    rest.remove_prefix(length);
    s.next = rest.empty() ? -1 : index + 1;
    symbols.push_back(s);
  }
  if (symbols.empty()) return {};

  std::vector<Candidate> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Candidate, std::vector<Candidate>, Lower> agenda(Lower(), std::move(storage));
  // An UNUSED piece that was merged -> the pair it was made from, so that it can be split back
  // at the end. Like the library, the latest pair proposed for a piece wins.
  absl::flat_hash_map<absl::string_view, std::pair<absl::string_view, absl::string_view>> unmerge;
  auto propose = [&](int left, int right) {
    if (left == -1 || right == -1 || symbols[left].freeze || symbols[right].freeze) return;
    // Adjacent symbols are adjacent in `normalized`: their concatenation is a view.
    const absl::string_view merged(symbols[left].piece.data(),
                                   symbols[left].piece.size() + symbols[right].piece.size());
    const auto it = mergeable_.find(merged);
    if (it == mergeable_.end()) return;
    agenda.push({scores_[it->second], left, right, static_cast<uint32_t>(merged.size())});
    if (types_[it->second] == SpmPieceType::kUnused) {
      unmerge[merged] = {symbols[left].piece, symbols[right].piece};
    }
  };

  for (size_t i = 1; i < symbols.size(); ++i) propose(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!agenda.empty()) {
    const Candidate top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.piece.empty() || right.piece.empty() ||
        left.piece.size() + right.piece.size() != top.size) {
      continue;  // stale
    }
    left.piece = absl::string_view(left.piece.data(), top.size);
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.piece = absl::string_view();
    propose(left.prev, top.left);
    propose(top.left, left.next);
  }

  std::vector<Segment> out;
  std::vector<absl::string_view> stack;  // splitting back UNUSED pieces, without recursion
  for (int index = 0; index != -1; index = symbols[index].next) {
    stack.push_back(symbols[index].piece);
    while (!stack.empty()) {
      const absl::string_view w = stack.back();
      stack.pop_back();
      const int id = PieceToId(w);
      if (has_unused_ && IsUnused(id)) {
        if (const auto it = unmerge.find(w); it != unmerge.end()) {
          stack.push_back(it->second.second);
          stack.push_back(it->second.first);
          continue;
        }
      }
      out.push_back({w, id});
    }
  }
  return out;
}

absl::StatusOr<std::vector<int>> SpmModel::Encode(absl::string_view text) const {
  std::vector<int> ids;
  LMEYE_RETURN_IF_ERROR(EncodeInternal(text, &ids, nullptr));
  return ids;
}

absl::Status SpmModel::EncodeInternal(absl::string_view text, std::vector<int>* ids,
                                      std::vector<std::string>* pieces) const {
  if (pieces_.empty()) return absl::FailedPreconditionError("SentencePiece model not loaded");
  const std::string normalized = SpmNormalize(text, normalizer_options_, user_symbols_,
                                              charsmap_.has_value() ? &*charsmap_ : nullptr);
  // Symbols are indexed by int, as in the library.
  if (normalized.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("text too long for SentencePiece (over 2 GiB normalized)");
  }
  const std::vector<Segment> segments =
      unigram_.has_value() ? unigram_->Segment(normalized) : SegmentBpe(normalized);
  ids->reserve(segments.size());

  // The library's PopulateSentencePieceText.
  size_t consumed = 0;
  bool prev_unknown = false;
  for (const Segment& s : segments) {
    const bool unknown = IsUnknown(s.id);
    if (IsControl(s.id)) {
      // Control pieces cover no text (so the consumed count below will not add up).
      ids->push_back(s.id);
      if (pieces != nullptr) pieces->emplace_back(s.piece);
    } else {
      if (unknown && byte_fallback_) {
        for (const char c : s.piece) {
          const auto byte = static_cast<uint8_t>(c);
          ids->push_back(byte_ids_[byte]);
          if (pieces != nullptr) pieces->push_back(ByteToPiece(byte));
        }
      } else if (unknown && prev_unknown) {
        // A run of unknown symbols is one <unk>.
        if (pieces != nullptr) pieces->back().append(s.piece.data(), s.piece.size());
      } else {
        ids->push_back(s.id);
        if (pieces != nullptr) pieces->emplace_back(s.piece);
      }
      consumed += s.piece.size();
    }
    prev_unknown = unknown;
  }
  if (consumed != normalized.size()) {
    return absl::InternalError(
        "SentencePiece model produced a control piece from text (not all normalized characters "
        "are consumed)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SpmModel::Decode(absl::Span<const int> ids) const {
  // The library decodes pieces, looking each id's piece up again: where a string is both a
  // reserved and a mergeable piece, the reserved id is what counts.
  std::vector<int> resolved;
  resolved.reserve(ids.size());
  for (const int id : ids) {
    if (id < 0 || id >= piece_size()) {
      return absl::OutOfRangeError(absl::StrCat("Invalid id: ", id));
    }
    resolved.push_back(PieceToId(pieces_[id]));
  }

  std::string text;
  // Bytes of consecutive byte pieces form UTF-8 together; each invalid byte is one U+FFFD.
  auto flush_bytes = [&](size_t begin, size_t end) {
    std::string bytes;
    for (size_t i = begin; i < end; ++i) {
      bytes.push_back(static_cast<char>(PieceToByte(pieces_[resolved[i]])));
    }
    for (size_t offset = 0; offset < bytes.size();) {
      size_t length = 0;
      if (DecodeUtf8At(bytes, offset, &length) == kInvalidCodepoint) {
        text.append(kReplacement.data(), kReplacement.size());
        offset += 1;
      } else {
        text.append(bytes, offset, length);
        offset += length;
      }
    }
  };
  const bool strip_first_space =
      normalizer_options_.add_dummy_prefix || normalizer_options_.remove_extra_whitespaces;

  size_t byte_start = 0;
  bool at_start = true;           // whether a leading "▁" is still to be dropped
  bool start_space_seen = false;  // whether the previous piece had its "▁" dropped
  for (size_t i = 0; i < resolved.size(); ++i) {
    const int id = resolved[i];
    if (IsByte(id)) continue;
    flush_bytes(byte_start, i);
    byte_start = i + 1;
    if (start_space_seen || !text.empty()) at_start = false;
    start_space_seen = false;
    absl::string_view piece = pieces_[id];
    if (IsControl(id)) continue;  // <s>, </s>: invisible
    if (IsUnknown(id)) {
      text.append(unk_surface_);
      continue;
    }
    if (at_start && strip_first_space) {
      start_space_seen = absl::ConsumePrefix(&piece, kSpaceSymbol);
      // With remove_extra_whitespaces the library keeps stripping until text appears.
      if (normalizer_options_.remove_extra_whitespaces) start_space_seen = false;
    }
    text.append(absl::StrReplaceAll(piece, {{kSpaceSymbol, " "}}));
  }
  flush_bytes(byte_start, resolved.size());
  return text;
}

}  // namespace lmeye
