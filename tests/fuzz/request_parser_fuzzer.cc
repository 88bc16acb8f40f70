// Fuzz target for request bytes -> request proto (server/edge/request_parser.h), the first code
// that sees a client's bytes. The first input byte picks the message (ChatRequest,
// DescribeRequest, AnswerVQARequest, GetModelInfoRequest), the rest is the request, parsed from
// one contiguous buffer and from a grpc::ByteBuffer cut into slices at input-derived points (as
// gRPC hands over a large message). Oracles: both forms agree; an accepted request is one protobuf
// itself parses to the same message. Seeds: corpus/request_parser (hand-encoded requests).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "lmeye/v1/lmeye.pb.h"
#include "server/edge/request_parser.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

std::unique_ptr<google::protobuf::Message> NewRequest(uint8_t selector) {
  switch (selector % 4) {
    case 0:
      return std::make_unique<lmeye::v1::ChatRequest>();
    case 1:
      return std::make_unique<lmeye::v1::DescribeRequest>();
    case 2:
      return std::make_unique<lmeye::v1::AnswerVQARequest>();
    default:
      return std::make_unique<lmeye::v1::GetModelInfoRequest>();
  }
}

// The bytes in up to four slices; the cut points come from the selector's high bits.
grpc::ByteBuffer Sliced(const std::string& bytes, uint8_t selector) {
  std::vector<grpc::Slice> slices;
  const int n_cuts = (selector >> 2) % 4;
  size_t begin = 0;
  for (int i = 1; i <= n_cuts; ++i) {
    const size_t end = std::max(begin, bytes.size() * i / (n_cuts + 1) + (selector >> 4) % 3);
    const size_t cut = std::min(end, bytes.size());
    slices.emplace_back(bytes.data() + begin, cut - begin);
    begin = cut;
  }
  slices.emplace_back(bytes.data() + begin, bytes.size() - begin);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lmeye::fuzz::Selected input = lmeye::fuzz::Select(data, size);
  std::unique_ptr<google::protobuf::Message> flat = NewRequest(input.selector);
  std::unique_ptr<google::protobuf::Message> sliced = NewRequest(input.selector);
  const absl::Status flat_status = lmeye::ParseRequest(input.rest, flat.get());
  const absl::Status sliced_status =
      lmeye::ParseRequest(Sliced(input.rest, input.selector), sliced.get());
  if (flat_status.ok() != sliced_status.ok()) std::abort();
  if (!flat_status.ok()) return 0;
  if (flat->SerializeAsString() != sliced->SerializeAsString()) std::abort();
  std::unique_ptr<google::protobuf::Message> reference = NewRequest(input.selector);
  if (!reference->ParseFromString(input.rest)) std::abort();
  if (reference->SerializeAsString() != flat->SerializeAsString()) std::abort();
  return 0;
}
