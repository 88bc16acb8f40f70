#include "server/edge/request_parser.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

// Walks the message of type `type` that fills the current limit of `in` (`data` is the whole
// input, for string contents). Returns false with `problem` set at the first problem.
bool CheckMessage(absl::string_view data, CodedInputStream& in, const Descriptor& type,
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
    if (!in.ReadVarint32(&length) || static_cast<int64_t>(length) > in.BytesUntilLimit()) {
      problem->why = absl::StrCat(path, " is truncated");
      return false;
    }
    if (text) {
      const absl::string_view value = data.substr(in.CurrentPosition(), length);
      if (const size_t bad = FirstInvalidUtf8(value); bad != absl::string_view::npos) {
        problem->field = path;
        problem->why = absl::StrCat("is not valid UTF-8 (byte ", bad, ")");
        return false;
      }
      in.Skip(static_cast<int>(length));
      continue;
    }
    const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
    if (!CheckMessage(data, in, *field->message_type(), path, depth + 1, problem)) return false;
    in.PopLimit(limit);
  }
}

}  // namespace

absl::Status ParseRequest(absl::string_view bytes, google::protobuf::Message* request) {
  const std::string& name = request->GetDescriptor()->full_name();
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("request is not a valid ", name, ": too big"));
  }
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  Problem problem;
  if (!CheckMessage(bytes, in, *request->GetDescriptor(), "", 0, &problem)) {
    if (!problem.field.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(problem.field, " ", problem.why));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("request is not a valid ", name, ": ", problem.why));
  }
  // Well formed and every string is text: protobuf's parse agrees but for what the walk leaves to
  // it (e.g. a known field with another wire type).
  if (!request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("request is not a valid ", name));
  }
  return absl::OkStatus();
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request) {
  std::vector<grpc::Slice> slices;
  if (!bytes.Dump(&slices).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request is not a valid ", request->GetDescriptor()->full_name()));
  }
  if (slices.size() == 1) {
    return ParseRequest(
        absl::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size()),
        request);
  }
  std::string flat;
  flat.reserve(bytes.Length());
  for (const grpc::Slice& s : slices)
    flat.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return ParseRequest(flat, request);
}

}  // namespace lmeye
