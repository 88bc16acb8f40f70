#include "server/edge/request_parser.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Deeper than any request of the API; protobuf's own default limit.
constexpr int kMaxDepth = 100;

// What is wrong with the bytes: a field that is not text, or a wire format that is broken.
struct Problem {
  std::string field;  // empty: not the message at all
  std::string why;
};

// Index of the first byte of `text` that is not part of valid UTF-8, or npos.
size_t FirstInvalidUtf8(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Sequence seq = ScanUtf8(text.substr(pos));
    if (seq.kind != Utf8Sequence::kComplete) return pos;
    pos += seq.length;
  }
  return absl::string_view::npos;
}

std::string FieldPath(const std::string& prefix, const FieldDescriptor& field, int index) {
  std::string path = prefix.empty() ? field.name() : absl::StrCat(prefix, ".", field.name());
  if (field.is_repeated()) absl::StrAppend(&path, "[", index, "]");
  return path;
}

// Walks the message of type `type` that fills the current limit of `in` (`size`: the bytes of
// the whole input). Returns false with `problem` set at the first problem.
bool CheckMessage(CodedInputStream& in, int64_t size, const Descriptor& type,
                  const std::string& prefix, int depth, Problem* problem) {
  if (depth > kMaxDepth) {
    problem->why = "nested too deeply";
    return false;
  }
  std::map<int, int> n_seen;  // repeated fields: the index of the next element
  while (true) {
    const int tag_at = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.ConsumedEntireMessage()) return true;
      problem->why = absl::StrCat("bad field tag at byte ", tag_at);
      return false;
    }
    const FieldDescriptor* field = type.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    const bool text = field != nullptr && field->type() == FieldDescriptor::TYPE_STRING;
    const bool message = field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE;
    if (!delimited || !(text || message)) {
      if (!WireFormatLite::SkipField(&in, tag)) {
        problem->why = absl::StrCat("truncated or malformed field at byte ", tag_at);
        return false;
      }
      continue;
    }
    const std::string path = FieldPath(prefix, *field, n_seen[field->number()]++);
    uint32_t length = 0;
    // Checked against the input's end too, not only the enclosing message's limit (-1 when
    // there is none): a stream that ends inside a pushed limit would read as a bad tag.
    if (!in.ReadVarint32(&length) || static_cast<int64_t>(length) > size - in.CurrentPosition() ||
        (in.BytesUntilLimit() >= 0 && static_cast<int64_t>(length) > in.BytesUntilLimit())) {
      problem->why = absl::StrCat(path, " is truncated");
      return false;
    }
    if (text) {
      std::string value;
      if (!in.ReadString(&value, static_cast<int>(length))) {
        problem->why = absl::StrCat(path, " is truncated");
        return false;
      }
      if (const size_t bad = FirstInvalidUtf8(value); bad != absl::string_view::npos) {
        problem->field = path;
        problem->why = absl::StrCat("is not valid UTF-8 (byte ", bad, ")");
        return false;
      }
      continue;
    }
    const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
    if (!CheckMessage(in, size, *field->message_type(), path, depth + 1, problem)) return false;
    in.PopLimit(limit);
  }
}

absl::Status NotValid(const google::protobuf::Message& request, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("request is not a valid ",
                                                 request.GetDescriptor()->full_name(),
                                                 why.empty() ? "" : ": ", why));
}

// The walk over `in` (`size` bytes): OK, or the problem as the API words it.
absl::Status Check(CodedInputStream& in, int64_t size, const google::protobuf::Message& request) {
  Problem problem;
  if (CheckMessage(in, size, *request.GetDescriptor(), "", 0, &problem)) return absl::OkStatus();
  if (!problem.field.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(problem.field, " ", problem.why));
  }
  return NotValid(request, problem.why);
}

}  // namespace

// Both: well formed and every string is text, so protobuf's parse agrees but for what the walk
// leaves to it (e.g. a known field with another wire type).
absl::Status ParseRequest(absl::string_view bytes, google::protobuf::Message* request) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return NotValid(*request, "too big");
  const int size = static_cast<int>(bytes.size());
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), size);
  if (absl::Status checked = Check(in, size, *request); !checked.ok()) return checked;
  if (!request->ParseFromArray(bytes.data(), size)) return NotValid(*request, "");
  return absl::OkStatus();
}

// Read in place, slice by slice, twice (the walk, then protobuf): no copy of the image bytes.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request) {
  grpc::ByteBuffer buffer(bytes);  // shares the slices; readers need a mutable one
  const size_t size = buffer.Valid() ? buffer.Length() : 0;
  if (!buffer.Valid()) return NotValid(*request, "no message");
  if (size > static_cast<size_t>(INT32_MAX)) return NotValid(*request, "too big");
  {
    grpc::ProtoBufferReader reader(&buffer);
    if (!reader.status().ok()) return NotValid(*request, "unreadable");
    CodedInputStream in(&reader);
    if (absl::Status checked = Check(in, static_cast<int64_t>(size), *request); !checked.ok()) {
      return checked;
    }
  }
  grpc::ProtoBufferReader reader(&buffer);
  if (!request->ParseFromZeroCopyStream(&reader)) return NotValid(*request, "");
  return absl::OkStatus();
}

}  // namespace lmeye
