// Request bytes -> request proto, with INVALID_ARGUMENT naming the problem.
//
// Why the service parses its own requests: when gRPC C++ cannot deserialize a request (malformed
// protobuf, or invalid UTF-8 in a proto3 `string`, which protobuf refuses after logging an
// ERROR), it answers UNIMPLEMENTED with an empty message and never calls the handler.
// The API promises INVALID_ARGUMENT naming the field, so LmeyeService takes every request as raw
// bytes (service.h) and parses it here. Before protobuf sees the bytes, a walk of the wire format
// over the message's descriptor checks that they are well formed and that every string field,
// nested ones too, is valid UTF-8: the error names the field as proto_convert.h does
// ("messages[1].text is not valid UTF-8 (byte 3)", "params.stop[0] ..."), and protobuf never
// logs. Fields the descriptor does not know are skipped, as protobuf keeps them unknown. The
// walk reads gRPC's slices in place and skips bytes fields: an image is not copied for it.
//
// Threading: a free function; call from any thread.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace lmeye {

// Replaces `*request` with the message in `bytes`. INVALID_ARGUMENT:
// "request is not a valid lmeye.v1.ChatRequest: <why>" for bytes that are not that message,
// "<field> is not valid UTF-8 (byte N)" for a string field that is not text.
absl::Status ParseRequest(absl::string_view bytes, google::protobuf::Message* request);
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request);

}  // namespace lmeye
