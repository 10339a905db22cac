// XPWC trailer parsing and writing. Every length is checked against what
// remains before a byte is read; the file is never trusted.
#include "weightkit/xnnpack/xpwc.hpp"

#include <cstring>
#include <set>

#include "weightkit/xxhash64.hpp"

namespace weightkit::xpwc {
namespace {

constexpr uint64_t kMaxEntries = 1u << 24;
constexpr uint64_t kMaxNameLen = 1u << 16;
constexpr size_t kIntegrityHeader = 16;  // magic u32 | version u32 | count u32 | reserved u32
constexpr size_t kIntegrityRecord = 24;  // checksum u64 | packer_id u32 | packer_version u32 | input_hash u64
constexpr size_t kIntegrityTail = 16;    // index hash u64 | record hash u64
constexpr uint64_t kScanChunk = 1u << 20;

Status bad(const ByteSource& src, const std::string& msg) {
  return Status(Code::kBadFormat, "XPWC '" + src.name() + "': " + msg);
}

void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

size_t integrity_size(size_t count) { return kIntegrityHeader + count * kIntegrityRecord + kIntegrityTail; }

std::string index_bytes(const std::vector<IndexEntry>& entries) {
  std::string s;
  for (const auto& e : entries) {
    put32(s, static_cast<uint32_t>(e.name.size()));
    s += e.name;
    put64(s, e.offset);
    put64(s, e.size);
    put32(s, e.seed);
  }
  return s;
}

}  // namespace

std::string serialize_trailer(const std::vector<IndexEntry>& entries, const std::vector<EntryIntegrity>& integrity,
                              uint64_t start) {
  const size_t isize = integrity_size(entries.size());
  std::vector<IndexEntry> all = entries;
  all.push_back(IndexEntry{kIntegrityEntryName, start, isize, 0});
  const std::string index = index_bytes(all);

  std::string rec;
  put32(rec, kIntegrityMagic);
  put32(rec, 1);
  put32(rec, static_cast<uint32_t>(entries.size()));
  put32(rec, 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    const EntryIntegrity& e = i < integrity.size() ? integrity[i] : EntryIntegrity{};
    put64(rec, e.checksum);
    put32(rec, e.packer_id);
    put32(rec, e.packer_version);
    put64(rec, e.input_hash);
  }
  put64(rec, Xxh64::hash(index.data(), index.size()));
  put64(rec, Xxh64::hash(rec.data(), rec.size()));

  std::string out = rec + index;
  put64(out, start + rec.size());
  put32(out, static_cast<uint32_t>(all.size()));
  put32(out, kMagic);
  put32(out, kVersion);
  return out;
}

Result<Trailer> parse_trailer_at(const ByteSource& src, uint64_t end) {
  if (end > src.size() || end < kFooterSize) return bad(src, "file is too small for a footer");
  uint8_t f[kFooterSize];
  Status st = src.read(end - kFooterSize, f, kFooterSize);
  if (!st.is_ok()) return st;
  Trailer t;
  t.index_start = load_le64(f);
  const uint32_t count = load_le32(f + 8);
  const uint32_t magic = load_le32(f + 12);
  t.version = load_le32(f + 16);
  t.end = end;
  if (magic != kMagic) return bad(src, "bad magic (not an XPWC cache file)");
  if (t.version != 1 && t.version != 2) {
    return Status(Code::kUnsupported, "XPWC '" + src.name() + "': version " + std::to_string(t.version) + " is not supported (1 and 2 are)");
  }
  const uint64_t footer = end - kFooterSize;
  if (t.index_start >= footer && !(t.index_start == footer && count == 0)) {
    return bad(src, "index_start " + std::to_string(t.index_start) + " is at or beyond the footer");
  }
  const uint64_t index_len = footer - t.index_start;
  const uint64_t min_entry = t.version == 1 ? 20 : 24;
  if (count > kMaxEntries || count * min_entry > index_len) {
    return bad(src, "entry_count " + std::to_string(count) + " does not fit in a " + std::to_string(index_len) + "-byte index");
  }
  auto index = src.read_string(t.index_start, static_cast<size_t>(index_len));
  if (!index.is_ok()) return index.status();
  const auto* p = reinterpret_cast<const uint8_t*>(index.value().data());
  size_t pos = 0;
  std::set<std::string> names;
  std::vector<IndexEntry> all;
  for (uint32_t i = 0; i < count; ++i) {
    if (index_len - pos < 4) return bad(src, "entry " + std::to_string(i) + " is truncated");
    const uint32_t name_len = load_le32(p + pos);
    pos += 4;
    if (name_len > kMaxNameLen || name_len + min_entry - 4 > index_len - pos) {
      return bad(src, "entry " + std::to_string(i) + " name_len " + std::to_string(name_len) + " runs past the index");
    }
    IndexEntry e;
    e.name.assign(reinterpret_cast<const char*>(p + pos), name_len);
    pos += name_len;
    e.offset = load_le64(p + pos);
    e.size = load_le64(p + pos + 8);
    pos += 16;
    if (t.version == 2) {
      e.seed = load_le32(p + pos);
      pos += 4;
    }
    // ExecuTorch's rule: the data lies before the index.
    if (e.offset >= t.index_start || e.size > t.index_start - e.offset) {
      return bad(src, "entry '" + e.name + "' [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) +
                          ") overlaps the index or lies outside the file");
    }
    if (!names.insert(e.name).second) return bad(src, "entry '" + e.name + "' appears twice");
    all.push_back(std::move(e));
  }
  if (pos != index_len) return bad(src, std::to_string(index_len - pos) + " unexplained bytes after the last entry");

  // weightkit's integrity record, when present, must check out completely.
  for (auto it = all.begin(); it != all.end(); ++it) {
    if (it->name != kIntegrityEntryName) continue;
    const uint64_t n = all.size() - 1;
    if (it->size != integrity_size(n)) return Status(Code::kCorrupt, "XPWC '" + src.name() + "': integrity record has the wrong size");
    auto rec = src.read_string(it->offset, static_cast<size_t>(it->size));
    if (!rec.is_ok()) return rec.status();
    const auto* r = reinterpret_cast<const uint8_t*>(rec.value().data());
    const size_t body = static_cast<size_t>(it->size) - 8;
    if (load_le32(r) != kIntegrityMagic || load_le32(r + 8) != n || load_le64(r + body) != Xxh64::hash(r, body)) {
      return Status(Code::kCorrupt, "XPWC '" + src.name() + "': integrity record is damaged");
    }
    if (load_le64(r + body - 8) != Xxh64::hash(index.value().data(), static_cast<size_t>(index_len))) {
      return Status(Code::kCorrupt, "XPWC '" + src.name() + "': index does not match its checksum");
    }
    std::vector<EntryIntegrity> integ(n);
    for (uint64_t k = 0; k < n; ++k) {
      const uint8_t* q = r + kIntegrityHeader + k * kIntegrityRecord;
      integ[k] = {load_le64(q), load_le32(q + 8), load_le32(q + 12), load_le64(q + 16)};
    }
    t.integrity_offset = it->offset;
    t.integrity_size = it->size;
    all.erase(it);
    t.integrity = std::move(integ);
    break;
  }
  t.entries = std::move(all);
  return t;
}

Result<Found> find_last_trailer(const ByteSource& src) {
  Found found;
  const uint64_t size = src.size();
  if (size == 0) return found;
  auto at_eof = parse_trailer_at(src, size);
  if (at_eof.is_ok()) {
    found.trailer = std::move(at_eof).value();
    return found;
  }
  // Scan backwards for footer magic; a candidate footer ends 8 bytes after
  // its magic (magic u32 | version u32). Chunks overlap so a footer spanning
  // a chunk boundary is still seen.
  std::string buf;
  uint64_t hi = size;
  while (hi > kFooterSize - 1) {
    uint64_t lo = hi > kScanChunk ? hi - kScanChunk : 0;
    auto chunk = src.read_string(lo, static_cast<size_t>(hi - lo));
    if (!chunk.is_ok()) return chunk.status();
    buf = std::move(chunk).value();
    for (size_t i = buf.size() >= 8 ? buf.size() - 8 + 1 : 0; i-- > 0;) {
      if (load_le32(reinterpret_cast<const uint8_t*>(buf.data()) + i) != kMagic) continue;
      const uint64_t end = lo + i + 8;
      if (end > size || end == size) continue;
      auto t = parse_trailer_at(src, end);
      if (t.is_ok()) {
        found.trailer = std::move(t).value();
        found.recovered = true;
        return found;
      }
    }
    if (lo == 0) break;
    hi = lo + 7;  // overlap: a magic straddling the boundary is found next round
  }
  return found;
}

}  // namespace weightkit::xpwc
