#include "model/io/zip_archive.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kDescriptorSig = 0x08074b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint32_t kSaturated32 = 0xffffffffu;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 1 << 0;
constexpr uint16_t kFlagDescriptor = 1 << 3;

uint64_t Le(absl::string_view data, uint64_t pos, int n_bytes) {
  uint64_t v = 0;
  for (int i = n_bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data[pos + i]);
  return v;
}

bool Fits(absl::string_view data, uint64_t pos, uint64_t n) {
  return pos <= data.size() && n <= data.size() - pos;
}

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::Status BadMember(absl::string_view name, absl::string_view what) {
  return Bad(absl::StrCat("zip member ", name, ": ", what));
}

// The zip64 extended-information extra field: 64-bit replacements, in this order, for the 32-bit
// fields that are saturated (0xffffffff) in the header.
absl::Status ReadZip64Extra(absl::string_view extra, absl::string_view name,
                            std::initializer_list<uint64_t*> saturated_fields) {
  uint64_t pos = 0;
  while (pos + 4 <= extra.size()) {
    const uint16_t id = static_cast<uint16_t>(Le(extra, pos, 2));
    const uint16_t len = static_cast<uint16_t>(Le(extra, pos + 2, 2));
    pos += 4;
    if (len > extra.size() - pos) return BadMember(name, "extra field runs past its header");
    if (id == kZip64ExtraId) {
      uint64_t field = pos;
      for (uint64_t* value : saturated_fields) {
        if (*value != kSaturated32) continue;
        if (field + 8 > pos + len) return BadMember(name, "zip64 extra field is too short");
        *value = Le(extra, field, 8);
        field += 8;
      }
      return absl::OkStatus();
    }
    pos += len;
  }
  for (uint64_t* value : saturated_fields) {
    if (*value == kSaturated32) return BadMember(name, "saturated size without a zip64 field");
  }
  return absl::OkStatus();
}

struct Directory {
  uint64_t entries = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

absl::StatusOr<Directory> ReadEnd(absl::string_view data) {
  if (data.size() < kEndSize) return Bad("too small to be a zip archive");
  // The end record is followed only by its comment; scan back over the longest comment.
  const uint64_t last = data.size() - kEndSize;
  const uint64_t first = last > 0xffff ? last - 0xffff : 0;
  uint64_t end = UINT64_MAX;
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (Le(data, pos, 4) == kEndSig && Le(data, pos + 20, 2) == data.size() - pos - kEndSize) {
      end = pos;
      break;
    }
  }
  if (end == UINT64_MAX) {
    return Bad("no end-of-central-directory record (the archive is truncated or not a zip)");
  }
  Directory dir;
  const uint64_t disk = Le(data, end + 4, 2), dir_disk = Le(data, end + 6, 2);
  const uint64_t entries_here = Le(data, end + 8, 2);
  dir.entries = Le(data, end + 10, 2);
  dir.size = Le(data, end + 12, 4);
  dir.offset = Le(data, end + 16, 4);
  uint64_t dir_limit = end;  // the central directory must end before this
  if (end >= kZip64LocatorSize && Le(data, end - kZip64LocatorSize, 4) == kZip64LocatorSig) {
    const uint64_t locator = end - kZip64LocatorSize;
    const uint64_t z64 = Le(data, locator + 8, 8);
    if (z64 > locator || locator - z64 < kZip64EndSize || Le(data, z64, 4) != kZip64EndSig) {
      return Bad("zip64 end-of-central-directory locator points at no zip64 end record");
    }
    if (Le(data, z64 + 16, 4) != 0 || Le(data, z64 + 20, 4) != 0 ||
        Le(data, z64 + 24, 8) != Le(data, z64 + 32, 8)) {
      return Bad("multi-disk zip archives are not supported");
    }
    dir.entries = Le(data, z64 + 32, 8);
    dir.size = Le(data, z64 + 40, 8);
    dir.offset = Le(data, z64 + 48, 8);
    dir_limit = z64;
  } else if (disk != 0 || dir_disk != 0 || entries_here != dir.entries) {
    return Bad("multi-disk zip archives are not supported");
  }
  if (dir.offset > dir_limit || dir.size > dir_limit - dir.offset) {
    return Bad(absl::StrCat("central directory (", dir.size, " bytes at ", dir.offset,
                            ") lies outside the archive"));
  }
  if (dir.entries > dir.size / kCentralHeaderSize) {
    return Bad(absl::StrCat("central directory of ", dir.size, " bytes cannot hold ", dir.entries,
                            " entries"));
  }
  return dir;
}

// Checks the local header (and data descriptor) of `m` against its central entry; sets
// m.data_offset and returns the end of everything the member occupies.
absl::StatusOr<uint64_t> CheckLocal(absl::string_view data, uint64_t header, uint64_t dir_offset,
                                    ZipMember& m) {
  if (!Fits(data, header, kLocalHeaderSize) || header + kLocalHeaderSize > dir_offset ||
      Le(data, header, 4) != kLocalHeaderSig) {
    return BadMember(m.name, absl::StrCat("no local header at offset ", header));
  }
  const uint16_t flags = static_cast<uint16_t>(Le(data, header + 6, 2));
  if (Le(data, header + 8, 2) != 0) return BadMember(m.name, "local header says compressed");
  const uint64_t name_len = Le(data, header + 26, 2), extra_len = Le(data, header + 28, 2);
  const uint64_t name_at = header + kLocalHeaderSize;
  if (name_len + extra_len > dir_offset - name_at) {
    return BadMember(m.name, "local header runs into the central directory");
  }
  if (data.substr(name_at, name_len) != m.name) {
    return BadMember(m.name, absl::StrCat("local header at offset ", header, " names \"",
                                          data.substr(name_at, name_len), "\""));
  }
  m.data_offset = name_at + name_len + extra_len;
  if (m.size > dir_offset - m.data_offset) {
    return BadMember(m.name, absl::StrCat(m.size, " bytes at offset ", m.data_offset,
                                          " run into the central directory"));
  }
  uint64_t end = m.data_offset + m.size;
  if (flags & kFlagDescriptor) {
    // Sizes follow the data (miniz writes them so even for in-memory records): an optional
    // signature, the CRC, then 32-bit sizes, or 64-bit ones for zip64 members.
    uint64_t pos = end;
    if (Fits(data, pos, 4) && Le(data, pos, 4) == kDescriptorSig) pos += 4;
    auto matches = [&](int width) {
      return pos + 4 + 2 * width <= dir_offset && Le(data, pos, 4) == m.crc32 &&
             Le(data, pos + 4, width) == m.size && Le(data, pos + 4 + width, width) == m.size;
    };
    if (matches(4)) {
      end = pos + 12;
    } else if (matches(8)) {
      end = pos + 20;
    } else {
      return BadMember(m.name,
                       "data descriptor disagrees with the central directory (CRC or size)");
    }
  } else {
    uint64_t crc = Le(data, header + 14, 4), comp = Le(data, header + 18, 4);
    uint64_t uncomp = Le(data, header + 22, 4);
    LMEYE_RETURN_IF_ERROR(
        ReadZip64Extra(data.substr(name_at + name_len, extra_len), m.name, {&uncomp, &comp}));
    if (crc != m.crc32 || comp != m.size || uncomp != m.size) {
      return BadMember(m.name, absl::StrCat("local header says ", uncomp, " bytes (", comp,
                                            " stored), the central directory ", m.size));
    }
  }
  return end;
}

}  // namespace

absl::StatusOr<ZipArchive> ZipArchive::Parse(absl::string_view data) {
  LMEYE_ASSIGN_OR_RETURN(Directory dir, ReadEnd(data));
  ZipArchive zip;
  zip.members_.reserve(dir.entries);
  std::vector<std::pair<uint64_t, uint64_t>> extents;  // [local header, end) per member
  uint64_t pos = dir.offset;
  const uint64_t dir_end = dir.offset + dir.size;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    if (dir_end - pos < kCentralHeaderSize || Le(data, pos, 4) != kCentralHeaderSig) {
      return Bad(absl::StrCat("central directory entry ", i, " at offset ", pos, " is damaged"));
    }
    const uint16_t flags = static_cast<uint16_t>(Le(data, pos + 8, 2));
    const uint64_t method = Le(data, pos + 10, 2);
    ZipMember m;
    m.crc32 = static_cast<uint32_t>(Le(data, pos + 16, 4));
    uint64_t comp = Le(data, pos + 20, 4), uncomp = Le(data, pos + 24, 4);
    const uint64_t name_len = Le(data, pos + 28, 2), extra_len = Le(data, pos + 30, 2);
    const uint64_t comment_len = Le(data, pos + 32, 2);
    uint64_t header = Le(data, pos + 42, 4);
    if (name_len + extra_len + comment_len > dir_end - pos - kCentralHeaderSize) {
      return Bad(absl::StrCat("central directory entry ", i, " runs past the directory"));
    }
    m.name = std::string(data.substr(pos + kCentralHeaderSize, name_len));
    LMEYE_RETURN_IF_ERROR(
        ReadZip64Extra(data.substr(pos + kCentralHeaderSize + name_len, extra_len), m.name,
                       {&uncomp, &comp, &header}));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
    if (flags & kFlagEncrypted) return BadMember(m.name, "encrypted");
    if (method != 0) {
      return BadMember(m.name, absl::StrCat("compressed (method ", method,
                                            "); torch stores members uncompressed"));
    }
    if (comp != uncomp) {
      return BadMember(m.name, absl::StrCat("stored member with ", comp, " bytes stored but ",
                                            uncomp, " bytes of content"));
    }
    m.size = uncomp;
    LMEYE_ASSIGN_OR_RETURN(uint64_t end, CheckLocal(data, header, dir.offset, m));
    extents.emplace_back(header, end);
    if (!zip.index_.emplace(m.name, zip.members_.size()).second) {
      return BadMember(m.name, "appears twice");
    }
    zip.members_.push_back(std::move(m));
  }
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].first < extents[i - 1].second) {
      return Bad(absl::StrCat("zip members overlap at offset ", extents[i].first));
    }
  }
  return zip;
}

const ZipMember* ZipArchive::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &members_[it->second];
}

namespace {

// Slicing-by-8 tables: 8 bytes per step, which keeps checking a multi-GB checkpoint's CRCs a
// small fraction of the time it takes to copy the tensors out.
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

CrcTables MakeCrcTables() {
  CrcTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

}  // namespace

uint32_t Crc32(absl::string_view bytes, uint32_t crc) {
  static const CrcTables t = MakeCrcTables();
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  crc = ~crc;
  while (n >= 8) {
    const uint32_t lo = crc ^ (p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace lmeye
