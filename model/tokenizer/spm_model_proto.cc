#include "model/tokenizer/spm_model_proto.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

enum WireType : int {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Reads one message's fields from a byte range. `base` is the range's offset in the whole file,
// so that errors point at absolute byte positions.
class WireReader {
 public:
  WireReader(absl::string_view data, size_t base) : data_(data), base_(base) {}

  bool done() const { return pos_ >= data_.size(); }

  // Reads a field key. Field number 0 and groups are malformed for this format.
  absl::Status ReadTag(int* field, int* wire_type) {
    uint64_t key = 0;
    LMEYE_RETURN_IF_ERROR(ReadVarint(&key));
    *field = static_cast<int>(key >> 3);
    *wire_type = static_cast<int>(key & 7);
    if ((key >> 3) == 0 || (key >> 3) > 0x1FFFFFFF) return Error("invalid field number");
    if (*wire_type == kStartGroup || *wire_type == kEndGroup) {
      return Error(absl::StrCat("field ", *field, " is a group, which ModelProto never has"));
    }
    if (*wire_type > kFixed32) return Error(absl::StrCat("invalid wire type ", *wire_type));
    return absl::OkStatus();
  }

  absl::Status ReadVarint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) return Error("truncated varint");
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      result |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return absl::OkStatus();
      }
    }
    return Error("varint longer than 10 bytes");
  }

  absl::Status ReadFixed32(uint32_t* value) {
    if (data_.size() - pos_ < 4) return Error("truncated fixed32");
    const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
    *value = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
             static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
    pos_ += 4;
    return absl::OkStatus();
  }

  // The payload of a length-delimited field, and its absolute offset.
  absl::Status ReadBytes(absl::string_view* bytes, size_t* offset) {
    uint64_t length = 0;
    LMEYE_RETURN_IF_ERROR(ReadVarint(&length));
    if (length > data_.size() - pos_) {
      return Error(absl::StrCat("length ", length, " runs past the end of the message"));
    }
    *offset = base_ + pos_;
    *bytes = data_.substr(pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return absl::OkStatus();
  }

  // Skips a field this parser does not read (protobuf keeps such fields as unknown fields).
  absl::Status Skip(int wire_type) {
    uint64_t ignored_varint = 0;
    uint32_t ignored_fixed32 = 0;
    absl::string_view ignored_bytes;
    size_t ignored_offset = 0;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&ignored_varint);
      case kFixed64:
        if (data_.size() - pos_ < 8) return Error("truncated fixed64");
        pos_ += 8;
        return absl::OkStatus();
      case kLengthDelimited:
        return ReadBytes(&ignored_bytes, &ignored_offset);
      case kFixed32:
        return ReadFixed32(&ignored_fixed32);
      default:
        return Error(absl::StrCat("invalid wire type ", wire_type));
    }
  }

  // Typed readers for known fields: a wire type that does not match is malformed.
  absl::Status ReadInt32(int wire_type, int* value) {
    LMEYE_RETURN_IF_ERROR(Expect(wire_type, kVarint));
    uint64_t v = 0;
    LMEYE_RETURN_IF_ERROR(ReadVarint(&v));
    *value = static_cast<int32_t>(static_cast<uint32_t>(v));  // int32 truncates, as protobuf
    return absl::OkStatus();
  }

  absl::Status ReadBool(int wire_type, bool* value) {
    LMEYE_RETURN_IF_ERROR(Expect(wire_type, kVarint));
    uint64_t v = 0;
    LMEYE_RETURN_IF_ERROR(ReadVarint(&v));
    *value = v != 0;
    return absl::OkStatus();
  }

  absl::Status ReadFloat(int wire_type, float* value) {
    LMEYE_RETURN_IF_ERROR(Expect(wire_type, kFixed32));
    uint32_t bits = 0;
    LMEYE_RETURN_IF_ERROR(ReadFixed32(&bits));
    static_assert(sizeof(float) == sizeof(uint32_t));
    std::memcpy(value, &bits, sizeof(bits));
    return absl::OkStatus();
  }

  absl::Status ReadString(int wire_type, std::string* value) {
    absl::string_view bytes;
    size_t offset = 0;
    LMEYE_RETURN_IF_ERROR(ReadSubmessage(wire_type, &bytes, &offset));
    value->assign(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

  absl::Status ReadSubmessage(int wire_type, absl::string_view* bytes, size_t* offset) {
    LMEYE_RETURN_IF_ERROR(Expect(wire_type, kLengthDelimited));
    return ReadBytes(bytes, offset);
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt SentencePiece model at byte ", base_ + pos_, ": ", what));
  }

 private:
  absl::Status Expect(int wire_type, int expected) const {
    if (wire_type == expected) return absl::OkStatus();
    return Error(absl::StrCat("wire type ", wire_type, " where ", expected, " was expected"));
  }

  absl::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

absl::Status ParsePiece(absl::string_view data, size_t base, SpmPieceProto* piece) {
  WireReader r(data, base);
  while (!r.done()) {
    int field = 0, wire = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadTag(&field, &wire));
    switch (field) {
      case 1:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &piece->piece));
        break;
      case 2:
        LMEYE_RETURN_IF_ERROR(r.ReadFloat(wire, &piece->score));
        break;
      case 3: {
        int type = 0;
        LMEYE_RETURN_IF_ERROR(r.ReadInt32(wire, &type));
        if (type >= static_cast<int>(SpmPieceType::kNormal) &&
            type <= static_cast<int>(SpmPieceType::kByte)) {
          piece->type = static_cast<SpmPieceType>(type);
        }
        break;
      }
      default:
        LMEYE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTrainerSpec(absl::string_view data, size_t base, SpmTrainerSpecProto* spec) {
  WireReader r(data, base);
  while (!r.done()) {
    int field = 0, wire = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadTag(&field, &wire));
    switch (field) {
      case 3:
        LMEYE_RETURN_IF_ERROR(r.ReadInt32(wire, &spec->model_type));
        break;
      case 24:
        LMEYE_RETURN_IF_ERROR(r.ReadBool(wire, &spec->treat_whitespace_as_suffix));
        break;
      case 35:
        LMEYE_RETURN_IF_ERROR(r.ReadBool(wire, &spec->byte_fallback));
        break;
      case 40:
        LMEYE_RETURN_IF_ERROR(r.ReadInt32(wire, &spec->unk_id));
        break;
      case 41:
        LMEYE_RETURN_IF_ERROR(r.ReadInt32(wire, &spec->bos_id));
        break;
      case 42:
        LMEYE_RETURN_IF_ERROR(r.ReadInt32(wire, &spec->eos_id));
        break;
      case 43:
        LMEYE_RETURN_IF_ERROR(r.ReadInt32(wire, &spec->pad_id));
        break;
      case 44:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->unk_surface));
        break;
      case 45:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->unk_piece));
        break;
      case 46:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->bos_piece));
        break;
      case 47:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->eos_piece));
        break;
      case 48:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->pad_piece));
        break;
      default:
        LMEYE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseNormalizerSpec(absl::string_view data, size_t base,
                                 SpmNormalizerSpecProto* spec) {
  WireReader r(data, base);
  while (!r.done()) {
    int field = 0, wire = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadTag(&field, &wire));
    switch (field) {
      case 1:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->name));
        break;
      case 2:
        LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &spec->precompiled_charsmap));
        break;
      case 3:
        LMEYE_RETURN_IF_ERROR(r.ReadBool(wire, &spec->add_dummy_prefix));
        break;
      case 4:
        LMEYE_RETURN_IF_ERROR(r.ReadBool(wire, &spec->remove_extra_whitespaces));
        break;
      case 5:
        LMEYE_RETURN_IF_ERROR(r.ReadBool(wire, &spec->escape_whitespaces));
        break;
      default:
        LMEYE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSelfTestSample(absl::string_view data, size_t base, SpmSelfTestSample* sample) {
  WireReader r(data, base);
  while (!r.done()) {
    int field = 0, wire = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadTag(&field, &wire));
    if (field == 1) {
      LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &sample->input));
    } else if (field == 2) {
      LMEYE_RETURN_IF_ERROR(r.ReadString(wire, &sample->expected));
    } else {
      LMEYE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSelfTestData(absl::string_view data, size_t base,
                               std::vector<SpmSelfTestSample>* samples) {
  WireReader r(data, base);
  while (!r.done()) {
    int field = 0, wire = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadTag(&field, &wire));
    if (field != 1) {
      LMEYE_RETURN_IF_ERROR(r.Skip(wire));
      continue;
    }
    absl::string_view bytes;
    size_t offset = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadSubmessage(wire, &bytes, &offset));
    LMEYE_RETURN_IF_ERROR(ParseSelfTestSample(bytes, offset, &samples->emplace_back()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SpmModelProto> ParseSpmModelProto(absl::string_view serialized) {
  SpmModelProto model;
  WireReader r(serialized, 0);
  while (!r.done()) {
    int field = 0, wire = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadTag(&field, &wire));
    if (field < 1 || field > 5) {
      LMEYE_RETURN_IF_ERROR(r.Skip(wire));
      continue;
    }
    absl::string_view bytes;
    size_t offset = 0;
    LMEYE_RETURN_IF_ERROR(r.ReadSubmessage(wire, &bytes, &offset));
    switch (field) {
      case 1:
        LMEYE_RETURN_IF_ERROR(ParsePiece(bytes, offset, &model.pieces.emplace_back()));
        break;
      case 2:
        LMEYE_RETURN_IF_ERROR(ParseTrainerSpec(bytes, offset, &model.trainer_spec));
        break;
      case 3:
        LMEYE_RETURN_IF_ERROR(ParseNormalizerSpec(bytes, offset, &model.normalizer_spec));
        break;
      case 4:
        LMEYE_RETURN_IF_ERROR(ParseSelfTestData(bytes, offset, &model.self_test));
        break;
      case 5:
        model.has_denormalizer_spec = true;
        LMEYE_RETURN_IF_ERROR(ParseNormalizerSpec(bytes, offset, &model.denormalizer_spec));
        break;
    }
  }
  return model;
}

}  // namespace lmeye
