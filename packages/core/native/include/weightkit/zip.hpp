// weightkit/zip.hpp — a read-only zip central-directory reader (zip64
// included) that never extracts: it only tells where each member's bytes
// are, after checking that every header lies inside the file, data lies
// before the directory and no two members overlap. One reader for every zip
// weightkit opens: AOTInductor .pt2 packages and PyTorch checkpoints.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weightkit/byte_source.hpp"
#include "weightkit/status.hpp"

namespace weightkit {

struct ZipMember {
  std::string name;
  uint16_t method = 0;           // 0 stored, 8 deflated
  uint16_t flags = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;      // first byte of the member's data in the file
  uint32_t crc32 = 0;
};

struct ZipDirectory {
  std::vector<ZipMember> members;  // in central-directory order
  bool zip64 = false;
  const ZipMember* find(std::string_view name) const;
};

/// Reads and validates the central directory and every local header: all
/// inside the file, data before the directory, members not overlapping.
Result<ZipDirectory> read_zip_directory(const ByteSource& src);

}  // namespace weightkit

namespace weightkit {
namespace zip_detail {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kMaxComment = 0xffff;
constexpr uint64_t kMaxMembers = 1u << 20;

inline Status bad(const ByteSource& src, const std::string& msg) {
  return Status(Code::kBadFormat, "zip '" + src.name() + "': " + msg);
}

struct Eocd {
  uint64_t entries = 0;
  uint64_t cd_size = 0;
  uint64_t cd_offset = 0;
  uint64_t eocd_offset = 0;
  bool zip64 = false;
};

inline Result<Eocd> find_eocd(const ByteSource& src) {
  const uint64_t size = src.size();
  if (size < kEocdSize) return bad(src, "file is too small to be a zip archive");
  const uint64_t tail = std::min<uint64_t>(size, kEocdSize + kMaxComment);
  auto buf = src.read_string(size - tail, static_cast<size_t>(tail));
  if (!buf.is_ok()) return buf.status();
  const auto* p = reinterpret_cast<const uint8_t*>(buf.value().data());
  // The last record whose comment length reaches exactly the end of the file.
  for (size_t i = static_cast<size_t>(tail - kEocdSize) + 1; i-- > 0;) {
    if (load_le32(p + i) != kEocdSig) continue;
    if (i + kEocdSize + load_le16(p + i + 20) != tail) continue;
    Eocd e;
    e.eocd_offset = size - tail + i;
    uint16_t disk = load_le16(p + i + 4), cd_disk = load_le16(p + i + 6);
    uint16_t disk_entries = load_le16(p + i + 8);
    e.entries = load_le16(p + i + 10);
    e.cd_size = load_le32(p + i + 12);
    e.cd_offset = load_le32(p + i + 16);
    if (disk != 0 || cd_disk != 0 || disk_entries != e.entries) {
      if (disk != 0xffff && cd_disk != 0xffff) return Status(Code::kUnsupported, "zip '" + src.name() + "': multi-disk archives are not supported");
    }
    if (e.entries == 0xffff || e.cd_size == 0xffffffff || e.cd_offset == 0xffffffff || disk == 0xffff) {
      if (e.eocd_offset < 20) return bad(src, "zip64 locator is missing");
      uint8_t loc[20];
      Status st = src.read(e.eocd_offset - 20, loc, sizeof loc);
      if (!st.is_ok()) return st;
      if (load_le32(loc) != kZip64LocatorSig) return bad(src, "zip64 end-of-directory locator is missing");
      uint64_t rec_off = load_le64(loc + 8);
      uint8_t rec[56];
      if (rec_off > e.eocd_offset - 20 || e.eocd_offset - 20 - rec_off < sizeof rec) {
        return bad(src, "zip64 end-of-directory record points outside the file");
      }
      st = src.read(rec_off, rec, sizeof rec);
      if (!st.is_ok()) return st;
      if (load_le32(rec) != kZip64EocdSig) return bad(src, "zip64 end-of-directory record has a bad signature");
      if (load_le32(rec + 16) != 0 || load_le32(rec + 20) != 0) {
        return Status(Code::kUnsupported, "zip '" + src.name() + "': multi-disk archives are not supported");
      }
      e.entries = load_le64(rec + 32);
      e.cd_size = load_le64(rec + 40);
      e.cd_offset = load_le64(rec + 48);
      e.zip64 = true;
      e.eocd_offset = rec_off;  // the directory must end before the zip64 record
    }
    uint64_t cd_end;
    if (add_overflows(e.cd_offset, e.cd_size, &cd_end) || cd_end > e.eocd_offset) {
      return bad(src, "central directory [" + std::to_string(e.cd_offset) + ", +" + std::to_string(e.cd_size) +
                          ") points outside the file");
    }
    if (e.entries > kMaxMembers) return bad(src, "too many members (" + std::to_string(e.entries) + ")");
    if (e.entries * 46 > e.cd_size) return bad(src, "central directory is too small for its entry count");
    return e;
  }
  return bad(src, "no end-of-central-directory record (not a zip file, or truncated)");
}

// Applies a zip64 extended-information extra field to the fields that were 0xffffffff.
inline Status apply_zip64_extra(const ByteSource& src, const std::string& extra, ZipMember& m, bool need_usize,
                         bool need_csize, bool need_offset) {
  size_t i = 0;
  while (i + 4 <= extra.size()) {
    const auto* p = reinterpret_cast<const uint8_t*>(extra.data()) + i;
    uint16_t id = load_le16(p), len = load_le16(p + 2);
    if (i + 4 + len > extra.size()) return bad(src, "member '" + m.name + "' has a truncated extra field");
    if (id == 0x0001) {
      size_t j = 4;
      auto take = [&](bool need, uint64_t* out) -> bool {
        if (!need) return true;
        if (j + 8 > 4u + len) return false;
        *out = load_le64(p + j);
        j += 8;
        return true;
      };
      if (!take(need_usize, &m.uncompressed_size) || !take(need_csize, &m.compressed_size) ||
          !take(need_offset, &m.local_header_offset)) {
        return bad(src, "member '" + m.name + "' has a short zip64 extra field");
      }
      return Status::ok();
    }
    i += 4 + len;
  }
  if (need_usize || need_csize || need_offset) return bad(src, "member '" + m.name + "' needs a zip64 extra field");
  return Status::ok();
}

}  // namespace zip_detail

inline const ZipMember* ZipDirectory::find(std::string_view name) const {
  for (const auto& m : members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

inline Result<ZipDirectory> read_zip_directory(const ByteSource& src) {
  using namespace zip_detail;
  auto eocd = find_eocd(src);
  if (!eocd.is_ok()) return eocd.status();
  const Eocd& e = eocd.value();
  // Streamed: memory follows the entries that really are there, never the
  // directory size a (possibly sparse) file declares.
  uint64_t cd_end;
  if (add_overflows(e.cd_offset, e.cd_size, &cd_end) || cd_end > src.size()) return bad(src, "central directory lies outside the file");
  ChunkReader dir(src, e.cd_offset, cd_end);
  ZipDirectory out;
  out.zip64 = e.zip64;
  for (uint64_t k = 0; k < e.entries; ++k) {
    auto head = dir.take(46);
    if (!head.is_ok()) return bad(src, "central directory entry " + std::to_string(k) + " is truncated");
    const uint8_t* p = head.value();
    if (load_le32(p) != kCentralSig) return bad(src, "central directory entry " + std::to_string(k) + " has a bad signature");
    ZipMember m;
    m.flags = load_le16(p + 8);
    m.method = load_le16(p + 10);
    m.crc32 = load_le32(p + 16);
    uint32_t csize = load_le32(p + 20), usize = load_le32(p + 24);
    uint16_t name_len = load_le16(p + 28), extra_len = load_le16(p + 30), comment_len = load_le16(p + 32);
    uint32_t lho = load_le32(p + 42);
    auto tail = dir.take(size_t{name_len} + extra_len + comment_len);
    if (!tail.is_ok()) return bad(src, "central directory entry " + std::to_string(k) + " runs past the directory");
    const char* q = reinterpret_cast<const char*>(tail.value());
    m.name.assign(q, name_len);
    m.compressed_size = csize;
    m.uncompressed_size = usize;
    m.local_header_offset = lho;
    Status st = apply_zip64_extra(src, std::string(q + name_len, extra_len), m, usize == 0xffffffff, csize == 0xffffffff, lho == 0xffffffff);
    if (!st.is_ok()) return st;
    if (m.flags & 1) return Status(Code::kUnsupported, "zip '" + src.name() + "': member '" + m.name + "' is encrypted");

    uint8_t local[30];
    if (m.local_header_offset > e.cd_offset || e.cd_offset - m.local_header_offset < sizeof local) {
      return bad(src, "member '" + m.name + "' local header lies outside the file data");
    }
    st = src.read(m.local_header_offset, local, sizeof local);
    if (!st.is_ok()) return st;
    if (load_le32(local) != kLocalSig) return bad(src, "member '" + m.name + "' has a bad local header signature");
    uint16_t lname = load_le16(local + 26), lextra = load_le16(local + 28);
    auto local_name = src.read_string(m.local_header_offset + 30, lname);
    if (!local_name.is_ok()) return local_name.status();
    if (local_name.value() != m.name) return bad(src, "member '" + m.name + "' local header names '" + local_name.value() + "'");
    m.data_offset = m.local_header_offset + 30 + lname + lextra;
    uint64_t data_end;
    if (add_overflows(m.data_offset, m.compressed_size, &data_end) || data_end > e.cd_offset) {
      return bad(src, "member '" + m.name + "' data runs past the start of the central directory");
    }
    if (m.method == 0 && m.compressed_size != m.uncompressed_size) {
      return bad(src, "stored member '" + m.name + "' has different compressed and uncompressed sizes");
    }
    out.members.push_back(std::move(m));
  }
  // No two members may share bytes: sort by local header and compare neighbours.
  std::vector<const ZipMember*> order;
  for (const auto& m : out.members) order.push_back(&m);
  std::sort(order.begin(), order.end(),
            [](const ZipMember* a, const ZipMember* b) { return a->local_header_offset < b->local_header_offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->local_header_offset < order[i - 1]->data_offset + order[i - 1]->compressed_size) {
      return bad(src, "members '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap");
    }
  }
  return out;
}

}  // namespace weightkit

