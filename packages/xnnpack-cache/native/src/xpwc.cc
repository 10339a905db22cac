// XPWC trailers and region records: parsing and writing. Every length is
// checked against what remains before a byte is read, and nothing is
// allocated by a size the file declares: the index is streamed through a
// bounded buffer.
#include "weightkit/xnnpack/xpwc.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "weightkit/xxhash64.hpp"

namespace weightkit::xpwc {
namespace {

constexpr size_t kIntegrityHeader = 16;  // magic u32 | version u32 | count u32 | reserved u32
constexpr size_t kIntegrityRecord = 24;  // checksum u64 | packer_id u32 | packer_version u32 | input_hash u64
constexpr size_t kIntegrityTail = 16;    // index hash u64 | record hash u64
constexpr uint64_t kScanChunk = 1u << 20;
constexpr size_t kRegionFixed = 56;      // the record before the name

Status bad(const ByteSource& src, const std::string& msg) {
  return Status(Code::kBadFormat, "XPWC '" + src.name() + "': " + msg);
}

void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t integrity_size(uint64_t count) { return kIntegrityHeader + count * kIntegrityRecord + kIntegrityTail; }

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/// A source that stops serving once `budget` bytes were read through it: the
/// backward scan and the region walk use it so that no file, however many fake
/// footers or records it holds, costs more than a few passes over it.
class BudgetSource final : public ByteSource {
 public:
  BudgetSource(const ByteSource& base, uint64_t budget) : base_(base), left_(budget) {}
  uint64_t size() const override { return base_.size(); }
  const std::string& name() const override { return base_.name(); }
  bool exhausted() const { return exhausted_; }

 protected:
  Status read_unchecked(uint64_t offset, void* out, size_t n) const override {
    if (n > left_) {
      exhausted_ = true;
      return Status(Code::kBadFormat, "XPWC '" + name() + "': read budget exhausted");
    }
    left_ -= n;
    return base_.read(offset, out, n);
  }

 private:
  const ByteSource& base_;
  mutable uint64_t left_;
  mutable bool exhausted_ = false;
};

std::string index_bytes(const std::vector<IndexEntry>& entries, uint32_t version) {
  std::string s;
  for (const auto& e : entries) {
    put32(s, static_cast<uint32_t>(e.name.size()));
    s += e.name;
    put64(s, e.offset);
    put64(s, e.size);
    if (version >= 2) put32(s, e.seed);
  }
  return s;
}

/// Validates weightkit's integrity record (the reserved entry `rec`) for the
/// `n` other entries of the index, in index order.
Result<std::vector<EntryIntegrity>> read_integrity(const ByteSource& src, const IndexEntry& rec, uint64_t n, uint64_t index_hash) {
  if (rec.size != integrity_size(n)) return Status(Code::kCorrupt, "XPWC '" + src.name() + "': integrity record has the wrong size");
  auto bytes = src.read_string(rec.offset, static_cast<size_t>(rec.size));
  if (!bytes.is_ok()) return bytes.status();
  const auto* r = reinterpret_cast<const uint8_t*>(bytes.value().data());
  const size_t body = static_cast<size_t>(rec.size) - 8;
  if (load_le32(r) != kIntegrityMagic || load_le32(r + 8) != n || load_le64(r + body) != Xxh64::hash(r, body)) {
    return Status(Code::kCorrupt, "XPWC '" + src.name() + "': integrity record is damaged");
  }
  if (load_le64(r + body - 8) != index_hash) {
    return Status(Code::kCorrupt, "XPWC '" + src.name() + "': index does not match its checksum (edited after weightkit wrote it)");
  }
  std::vector<EntryIntegrity> out(static_cast<size_t>(n));
  for (uint64_t k = 0; k < n; ++k) {
    const uint8_t* q = r + kIntegrityHeader + k * kIntegrityRecord;
    out[k] = {load_le64(q), load_le32(q + 8), load_le32(q + 12), load_le64(q + 16)};
  }
  return out;
}

}  // namespace

Result<uint64_t> hash_range(const ByteSource& src, uint64_t offset, uint64_t length) {
  // One buffer for the whole range, read into directly: a ChunkReader would
  // allocate and zero a fresh one for every chunk (a third of verify's time).
  Xxh64 h;
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kScanChunk, length)));
  for (uint64_t at = 0; at < length;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - at));
    Status st = src.read(offset + at, buf.data(), n);
    if (!st.is_ok()) return st;
    h.update(buf.data(), n);
    at += n;
  }
  return h.digest();
}

Result<Footer> parse_footer(const uint8_t f[kFooterSize], uint64_t end, const std::string& name) {
  Footer out;
  out.index_start = load_le64(f);
  out.entry_count = load_le32(f + 8);
  const uint32_t magic = load_le32(f + 12);
  out.version = load_le32(f + 16);
  if (magic != kMagic) return Status(Code::kBadFormat, "XPWC '" + name + "': bad magic (not an XPWC cache file)");
  if (out.version != 1 && out.version != 2) {
    return Status(Code::kUnsupported,
                  "XPWC '" + name + "': version " + std::to_string(out.version) + " is not supported (1 and 2 are)");
  }
  // ExecuTorch's rule: the index starts before the footer.
  if (out.index_start >= end - kFooterSize) {
    return Status(Code::kBadFormat, "XPWC '" + name + "': index_start " + std::to_string(out.index_start) + " is at or beyond the footer");
  }
  return out;
}

Result<Trailer> parse_trailer_at(const ByteSource& src, uint64_t end) {
  if (end > src.size() || end < kFooterSize) return bad(src, "file is too small for a footer");
  uint8_t f[kFooterSize];
  Status st = src.read(end - kFooterSize, f, kFooterSize);
  if (!st.is_ok()) return st;
  auto footer = parse_footer(f, end, src.name());
  if (!footer.is_ok()) return footer.status();
  Trailer t;
  t.version = footer.value().version;
  t.index_start = footer.value().index_start;
  t.end = end;
  const uint64_t index_end = end - kFooterSize;
  if (index_end - t.index_start > kMaxIndexBytes) {
    return Status(Code::kUnsupported, "XPWC '" + src.name() + "': an index of " + std::to_string(index_end - t.index_start) +
                                          " bytes is larger than weightkit reads (" + std::to_string(kMaxIndexBytes) + ")");
  }
  // ExecuTorch's loader: entries are read while 4 bytes remain; an entry whose
  // name and fields run past the index, or whose data is not wholly before the
  // index, rejects the file; bytes after the last entry are not looked at.
  const uint64_t fields = t.version == 1 ? 16 : 20;
  ChunkReader reader(src, t.index_start, index_end);
  std::vector<IndexEntry> raw;
  for (uint32_t i = 0; i < footer.value().entry_count && reader.remaining() >= 4; ++i) {
    auto len = reader.take(4);
    if (!len.is_ok()) return len.status();
    const uint64_t name_len = load_le32(len.value());
    if (name_len + fields > reader.remaining()) {
      return bad(src, "entry " + std::to_string(i) + " (name_len " + std::to_string(name_len) + ") runs past the index");
    }
    IndexEntry e;
    auto name = reader.take(static_cast<size_t>(name_len));
    if (!name.is_ok()) return name.status();
    e.name.assign(reinterpret_cast<const char*>(name.value()), static_cast<size_t>(name_len));
    auto p = reader.take(static_cast<size_t>(fields));
    if (!p.is_ok()) return p.status();
    e.offset = load_le64(p.value());
    e.size = load_le64(p.value() + 8);
    if (t.version >= 2) e.seed = load_le32(p.value() + 16);
    if (e.offset >= t.index_start || e.size > t.index_start - e.offset) {
      return bad(src, "entry '" + e.name + "' [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) +
                          ") overlaps the index or lies outside the file");
    }
    raw.push_back(std::move(e));
  }

  // weightkit's integrity record, when present, must check out completely.
  std::optional<std::vector<EntryIntegrity>> integrity;
  auto rec = std::find_if(raw.begin(), raw.end(), [](const IndexEntry& e) { return e.name == kIntegrityEntryName; });
  if (rec != raw.end()) {
    auto h = hash_range(src, t.index_start, index_end - t.index_start);
    if (!h.is_ok()) return h.status();
    auto in = read_integrity(src, *rec, raw.size() - 1, h.value());
    if (!in.is_ok()) return in.status();
    integrity = std::move(in).value();
    t.index_hash = h.value();
    raw.erase(rec);
  }
  // A repeated name: the last one wins, as in ExecuTorch's map.
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < raw.size(); ++i) last[raw[i].name] = i;
  if (integrity) t.integrity.emplace();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (last[raw[i].name] != i) continue;
    if (integrity) t.integrity->push_back((*integrity)[i]);
    t.entries.push_back(std::move(raw[i]));
  }
  return t;
}

Result<Found> find_last_trailer(const ByteSource& src) {
  Found found;
  const uint64_t size = src.size();
  if (size < kFooterSize) {
    found.at_eof = Found::AtEof::kNoMagic;
    return found;
  }
  uint8_t f[kFooterSize];
  Status st = src.read(size - kFooterSize, f, kFooterSize);
  if (!st.is_ok()) return st;
  if (load_le32(f + 12) == kMagic) {
    auto at_eof = parse_trailer_at(src, size);
    if (at_eof.is_ok()) {
      found.trailer = std::move(at_eof).value();
      return found;
    }
    found.eof_status = at_eof.status();
    // A version this reader does not know (or an index it will not read) and
    // an integrity record that does not check out are not damage to recover
    // from: ExecuTorch may well read such a file. Leave it to the caller.
    if (at_eof.status().code() == Code::kUnsupported) {
      found.at_eof = Found::AtEof::kUnsupported;
      return found;
    }
    found.at_eof = Found::AtEof::kDamaged;
    if (at_eof.status().code() == Code::kCorrupt) return found;
  } else {
    found.at_eof = Found::AtEof::kNoMagic;
  }
  // Scan backwards for footer magic; a candidate footer ends 8 bytes after its
  // magic (magic u32 | version u32). Chunks overlap by 7 bytes so a magic that
  // straddles a boundary is seen. Candidate trailers are parsed through a
  // budget: whatever they claim, the scan reads O(size) bytes in total.
  BudgetSource budget(src, 2 * size + (uint64_t{16} << 20));
  std::string buf;
  uint64_t hi = size;
  while (hi > kFooterSize - 1) {
    const uint64_t lo = hi > kScanChunk ? hi - kScanChunk : 0;
    auto chunk = src.read_string(lo, static_cast<size_t>(hi - lo));
    if (!chunk.is_ok()) return chunk.status();
    buf = std::move(chunk).value();
    const auto* b = reinterpret_cast<const uint8_t*>(buf.data());
    for (size_t i = buf.size() >= 8 ? buf.size() - 8 + 1 : 0; i-- > 0;) {
      if (load_le32(b + i) != kMagic) continue;
      const uint32_t version = load_le32(b + i + 4);
      const uint64_t end = lo + i + 8;
      if ((version != 1 && version != 2) || end >= size || end < kFooterSize) continue;
      auto t = parse_trailer_at(budget, end);
      if (t.is_ok()) {
        found.trailer = std::move(t).value();
        found.recovered = true;
        return found;
      }
      if (budget.exhausted()) {
        found.exhausted = true;
        return found;
      }
    }
    if (lo == 0) break;
    hi = lo + 7;
  }
  return found;
}

SerializedTrailer serialize_trailer(const std::vector<IndexEntry>& entries, const std::vector<EntryIntegrity>& integrity,
                                    uint64_t start, uint32_t version) {
  const uint64_t isize = integrity_size(entries.size());
  std::vector<IndexEntry> all = entries;
  all.push_back(IndexEntry{kIntegrityEntryName, start, isize, 0});
  const std::string index = index_bytes(all, version);

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
  const uint64_t index_hash = Xxh64::hash(index.data(), index.size());
  put64(rec, index_hash);
  put64(rec, Xxh64::hash(rec.data(), rec.size()));

  SerializedTrailer out{rec + index, index_hash};
  put64(out.bytes, start + rec.size());
  put32(out.bytes, static_cast<uint32_t>(all.size()));
  put32(out.bytes, kMagic);
  put32(out.bytes, version);
  return out;
}

// ---- region records --------------------------------------------------------

uint64_t region_header_size(uint64_t name_len) { return round_up(kRegionFixed + name_len + 8, 64); }

std::string serialize_region_header(const RegionRecord& r) {
  const uint64_t header_len = region_header_size(r.name.size());
  std::string s;
  s.reserve(static_cast<size_t>(header_len));
  put32(s, kRegionMagic);
  put32(s, static_cast<uint32_t>(header_len));
  put32(s, static_cast<uint32_t>(r.name.size()));
  put32(s, r.seed);
  put64(s, r.data_size);
  put64(s, r.integrity.checksum);
  put32(s, r.integrity.packer_id);
  put32(s, r.integrity.packer_version);
  put64(s, r.integrity.input_hash);
  put64(s, 0);
  s += r.name;
  s.resize(static_cast<size_t>(header_len) - 8, '\0');
  put64(s, Xxh64::hash(s.data(), s.size()));
  return s;
}

Result<std::vector<RecoveredRegion>> scan_regions(const ByteSource& src, uint64_t from, uint64_t to, uint64_t page,
                                                  uint64_t* dropped_bytes) {
  std::vector<RecoveredRegion> out;
  uint64_t kept = 0;
  to = std::min(to, src.size());
  const uint64_t start = std::min(round_up(from, page), to);
  BudgetSource budget(src, 3 * (to - start) + (uint64_t{4} << 20));
  uint64_t p = start;
  while (p < to && to - p >= 64) {
    uint8_t fixed[kRegionFixed];
    Status st = budget.read(p, fixed, sizeof fixed);
    if (!st.is_ok()) break;  // budget spent: what is left is dropped
    const uint64_t header_len = load_le32(fixed + 4), name_len = load_le32(fixed + 8);
    const uint64_t data_size = load_le64(fixed + 16);
    uint64_t data_end;
    const bool plausible = load_le32(fixed) == kRegionMagic && name_len <= kMaxRegionName &&
                           header_len == region_header_size(name_len) && header_len <= to - p &&
                           !add_overflows(p + header_len, data_size, &data_end) && data_end <= to;
    if (plausible) {
      auto header = budget.read_string(p, static_cast<size_t>(header_len));
      if (!header.is_ok()) break;
      const auto* h = reinterpret_cast<const uint8_t*>(header.value().data());
      if (load_le64(h + header_len - 8) == Xxh64::hash(h, static_cast<size_t>(header_len) - 8)) {
        RecoveredRegion r;
        r.record.name.assign(reinterpret_cast<const char*>(h + kRegionFixed), static_cast<size_t>(name_len));
        r.record.seed = load_le32(h + 12);
        r.record.data_size = data_size;
        r.record.integrity = {load_le64(h + 24), load_le32(h + 32), load_le32(h + 36), load_le64(h + 40)};
        r.data_offset = p + header_len;
        auto sum = hash_range(budget, r.data_offset, data_size);
        if (!sum.is_ok()) break;
        if (sum.value() == r.record.integrity.checksum) {
          kept += std::min(round_up(data_end, page), to) - p;
          out.push_back(std::move(r));
          p = round_up(data_end, page);
          continue;
        }
      }
    }
    p += page;
  }
  if (dropped_bytes) *dropped_bytes = (to - start) - std::min(kept, to - start);
  return out;
}

}  // namespace weightkit::xpwc
