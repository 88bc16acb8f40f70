// The member table of a zip archive whose members are stored uncompressed, as torch.save's zip
// format (PyTorchStreamWriter, miniz) writes them: every member's bytes can then be used in place,
// straight out of a memory-mapped file. Written here rather than taken from a zip library because
// the model library has no zip dependency and needs none for stored members.
//
// Parse trusts nothing: the end-of-central-directory record (and the zip64 one torch always adds),
// every central entry, every local header and data descriptor are checked against each other and
// against the file size, and members may not overlap one another or the central directory. A
// member's CRC-32 is left to the caller (Crc32), which checks it when it reads the member.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

struct ZipMember {
  std::string name;          // full name, e.g. "archive/data/0"
  uint64_t data_offset = 0;  // where the member's bytes start in the archive
  uint64_t size = 0;         // bytes (stored: compressed size == uncompressed size)
  uint32_t crc32 = 0;        // from the central directory
};

// Immutable after Parse; safe to share between threads.
class ZipArchive {
 public:
  // Reads and validates the member table of `data` (the whole archive). Errors are
  // INVALID_ARGUMENT naming the member ("zip member archive/data/3: ...") or the record at fault;
  // the caller adds the file name.
  static absl::StatusOr<ZipArchive> Parse(absl::string_view data);

  // In central-directory order.
  const std::vector<ZipMember>& members() const { return members_; }
  const ZipMember* Find(absl::string_view name) const;
  // The bytes of `member` inside `data` (the archive Parse validated).
  static absl::string_view Bytes(absl::string_view data, const ZipMember& member) {
    return data.substr(member.data_offset, member.size);
  }

 private:
  std::vector<ZipMember> members_;
  std::map<std::string, size_t, std::less<>> index_;
};

// CRC-32 (ISO-HDLC, the zip/zlib polynomial), optionally continuing from a previous value.
uint32_t Crc32(absl::string_view bytes, uint32_t crc = 0);

}  // namespace lmeye
