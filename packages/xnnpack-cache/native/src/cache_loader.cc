// The loader half of a packed-weights cache (cache_loader.hpp).
#include "cache_loader.hpp"

#include <algorithm>
#include <cstring>

#include "cache_writer.hpp"
#include "verified_stamp.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/platform.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {

Status CacheLoader::open_file() {
  auto f = CacheFile::open(s_.opts.path, s_.opts.lock_wait_ms);
  if (!f.is_ok()) return f.status();
  s_.file = std::move(f).value();
  s_.stats.file_backed = true;
  s_.stats.read_only = s_.file->read_only();
  auto ident = s_.file->identity();
  if (!ident.is_ok()) return ident.status();
  s_.id = {ident.value().dev, ident.value().ino};
  if (s_.file->held_by_another_program()) {
    return s_.refuse(Fallback::kLocked, "another program holds '" + s_.opts.path +
                                         "' for writing (flock LOCK_EX, as ExecuTorch's cache does); packing on the heap");
  }
  return load();
}

Status CacheLoader::load() {
  auto size = s_.file->size();
  if (!size.is_ok()) return size.status();
  s_.role = s_.file->read_only() ? FileRole::kReadOnly : FileRole::kReader;
  if (size.value() == 0) return Status::ok();  // a new cache: its first pack writes the first trailer
  FdSource src(s_.file->fd(), size.value(), s_.opts.path);
  auto found = xpwc::find_last_trailer(src);
  if (!found.is_ok()) return found.status();
  const xpwc::Found& f = found.value();
  s_.known_size = size.value();
  s_.file_end = page_align(size.value());
  if (!f.trailer) {
    if (f.at_eof == xpwc::Found::AtEof::kUnsupported) {
      return s_.refuse(Fallback::kUnsupported, f.eof_status.message() + "; weightkit leaves the file as it is");
    }
    if (f.at_eof == xpwc::Found::AtEof::kDamaged && f.eof_status.code() == Code::kCorrupt) {
      return s_.refuse(Fallback::kInvalidFile, f.eof_status.message() +
                                                "; ExecuTorch may still read it, so weightkit leaves it as it is "
                                                "('weightkit cache compact' rebuilds it)");
    }
    if (f.at_eof == xpwc::Found::AtEof::kNoMagic) {
      return Status(Code::kBadFormat, "'" + s_.opts.path + "' is not an XPWC packed-weights cache: it does not end with an XPWC footer" +
                                          std::string(f.exhausted ? " and no earlier trailer was found within the scan budget"
                                                                  : " and holds no earlier trailer") +
                                          "; weightkit will not overwrite it (choose another path, or delete it if it is a damaged cache)");
    }
    return rebuild(f.eof_status);  // a damaged cache that ExecuTorch would wipe as well
  }
  Status st = adopt_trailer(*f.trailer);
  if (!st.is_ok()) return st;
  if (f.recovered) {
    s_.stats.recovered = true;
    // The process that left the tail is gone if its writer lock is free:
    // repair before anything else, so the footer is at EOF again.
    if (s_.file->take_writer(s_.opts.lock_wait_ms)) {
      s_.role = FileRole::kWriter;
      s_.stats.writer = true;
      st = repair();
      if (!st.is_ok()) return st;
    }
  }
  apply_verify_policy(*f.trailer);
  return Status::ok();
}

Status CacheLoader::rebuild(const Status& why) {
  if (s_.file->read_only() || !s_.file->sole_user()) {
    return s_.refuse(Fallback::kInvalidFile, why.message() + "; another process has the file open, so it is left as it is");
  }
  auto aside = s_.file->move_aside_and_recreate();
  if (!aside.is_ok()) return aside.status();
  s_.stats.rebuilt_from = aside.value();
  auto ident = s_.file->identity();
  if (ident.is_ok()) s_.id = {ident.value().dev, ident.value().ino};
  s_.known_size = s_.file_end = s_.trailer_end = 0;
  return load();
}

void CacheLoader::apply_verify_policy(const xpwc::Trailer& t) {
  if (s_.opts.verify == Verify::kNone) {
    s_.table.for_each([](Entry& e) { e.verified = true; });
    return;
  }
  if (s_.opts.verify == Verify::kFirstUse) {
    auto stamp = read_stamp(s_.opts.path);
    auto ident = s_.file->identity();
    if (stamp && ident.is_ok() && t.index_hash != 0 && stamp->file == ident.value() && stamp->index_hash == t.index_hash) {
      s_.table.for_each([](Entry& e) { e.verified = true; });
      s_.stats.trusted = true;
    }
    return;
  }
  std::vector<std::string> bad;
  s_.table.for_each([&](Entry& e) {
    if (!s_.needs_verification(e)) return;
    if (Xxh64::hash(e.data, e.size) == e.integrity.checksum) {
      e.verified = true;
      s_.stats.verified_bytes += e.size;
    } else {
      bad.push_back(e.name);
    }
  });
  for (const auto& n : bad) s_.drop_corrupt(n);
}

Status CacheLoader::adopt_trailer(const xpwc::Trailer& t) {
  auto region = MappedRegion::map(s_.file->fd(), s_.opts.path, 0, t.index_start, Access::kReadOnly, s_.opts.populate);
  if (!region.is_ok()) return region.status();
  if (s_.opts.populate) s_.stats.populated_bytes += t.index_start;
  auto owned = std::make_shared<MappedRegion>(std::move(region).value());
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const auto& ie = t.entries[i];
    if (s_.table.find(ie.name)) continue;
    auto e = std::make_unique<Entry>();
    e->name = ie.name;
    e->data = owned->data() + ie.offset;
    e->size = ie.size;
    e->seed = ie.seed;
    e->seed_known = t.version >= 2;  // v1 stores no seeds: look-ups are seed-blind, as in ExecuTorch v1
    e->kind = Kind::kLoaded;
    e->storage = owned;
    e->region = owned.get();
    e->file_offset = ie.offset;
    e->persistent = true;
    if (t.integrity) {
      e->integrity = (*t.integrity)[i];
      e->has_checksum = true;
    }
    bool superseded;
    s_.table.put(std::move(e), &superseded);
    s_.stats.loaded_entries++;
  }
  s_.version = t.version;
  s_.trailer_end = std::max(s_.trailer_end, t.end);
  return Status::ok();
}

Status CacheLoader::repair() {
  auto size = s_.file->size();
  if (!size.is_ok()) return size.status();
  FdSource src(s_.file->fd(), size.value(), s_.opts.path);
  uint64_t dropped = 0;
  auto regions = xpwc::scan_regions(src, s_.trailer_end, size.value(), page_size(), &dropped);
  if (!regions.is_ok()) return regions.status();
  if (!regions.value().empty()) {
    const uint64_t first = regions.value().front().data_offset;
    const auto& last = regions.value().back();
    auto region = MappedRegion::map(s_.file->fd(), s_.opts.path, first, last.data_offset + last.record.data_size - first, Access::kReadOnly);
    if (!region.is_ok()) return region.status();
    auto owned = std::make_shared<MappedRegion>(std::move(region).value());
    for (const auto& r : regions.value()) {
      auto e = std::make_unique<Entry>();
      e->name = r.record.name;
      e->data = owned->data() + (r.data_offset - first);
      e->size = r.record.data_size;
      e->seed = r.record.seed;
      e->integrity = r.record.integrity;
      e->has_checksum = e->verified = true;
      e->kind = Kind::kFile;
      e->storage = owned;
      e->region = owned.get();
      e->file_offset = r.data_offset;
      bool superseded;
      s_.table.put(std::move(e), &superseded);
    }
  }
  s_.stats.repaired_entries += regions.value().size();
  s_.stats.repair_dropped_bytes += dropped;
  s_.known_size = size.value();
  s_.file_end = page_align(size.value());
  s_.unsaved = true;
  auto saved = writer_.save();
  return saved.is_ok() ? Status::ok() : saved.status();
}

bool CacheLoader::ensure_writer() {
  if (s_.role == FileRole::kWriter) return true;
  if (s_.role != FileRole::kReader || !s_.file->take_writer(s_.opts.lock_wait_ms)) {
    if (s_.role == FileRole::kReader) s_.role = FileRole::kWriterRefused;
    return false;
  }
  s_.role = FileRole::kWriter;
  s_.stats.writer = true;
  auto size = s_.file->size();
  if (size.is_ok() && size.value() != s_.known_size) {
    FdSource src(s_.file->fd(), size.value(), s_.opts.path);
    auto found = xpwc::find_last_trailer(src);
    if (found.is_ok() && found.value().trailer && found.value().trailer->end > s_.trailer_end) {
      (void)adopt_trailer(*found.value().trailer);
    }
    s_.known_size = size.value();
    s_.file_end = std::max(s_.file_end, page_align(size.value()));
    if (found.is_ok() && found.value().recovered) (void)repair();
  }
  return true;
}

}  // namespace weightkit::xnnpack
