// The writer half of a packed-weights cache (cache_writer.hpp).
#include "cache_writer.hpp"

#include <algorithm>
#include <cstring>

#include "cache_loader.hpp"
#include "verified_stamp.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/platform.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {

Result<EntryView> CacheWriter::insert(const EntryKey& key, Pending p, size_t n, uint64_t checksum) {
  auto e = std::make_unique<Entry>();
  e->name = key.name;
  e->size = n;
  e->seed = key.seed;
  e->integrity = {checksum, key.packer_id, key.packer_version, key.input_hash};
  e->has_checksum = e->verified = true;
  std::optional<Fallback> why;
  const bool persistable = !key.transient && key.name.size() <= xpwc::kMaxRegionName;
  if (s_.role != FileRole::kHeapOnly && persistable && loader_.ensure_writer()) {
    auto placed = append_region(*e, p.buffer.get());
    if (placed.is_ok()) {
      s_.staging.give(std::move(p.buffer), p.capacity);
    } else {
      why = placed.code() == Code::kNoSpace ? Fallback::kNoSpace : Fallback::kIoError;
    }
  } else if (persistable) {
    why = s_.heap_reason();
  }
  if (e->kind == Kind::kHeap) {
    e->data = p.buffer.get();
    e->storage = std::move(p.buffer);
    if (why) s_.stats.fallback_bytes[static_cast<int>(*why)] += n;
  }
  bool superseded;
  Entry* raw = s_.table.put(std::move(e), &superseded);
  if (superseded) s_.stats.superseded++;
  s_.runtime_names.insert(key.name);
  s_.stats.packs++;
  return view_of(*raw);
}

Status CacheWriter::append_region(Entry& e, const uint8_t* data) {
  if (s_.trailer_end == 0) {
    auto first = xpwc::serialize_trailer({}, {}, 0, s_.version);
    auto end = write_trailer_at(s_.file->fd(), s_.opts.path, 0, first.bytes);
    if (!end.is_ok()) return end.status();
    s_.trailer_end = s_.known_size = end.value();
    s_.file_end = page_align(end.value());
  }
  xpwc::RegionRecord record{e.name, e.seed, e.size, e.integrity};
  auto placed = write_region_after(s_.file->fd(), s_.opts.path, s_.file_end, record, data);
  if (!placed.is_ok()) {
    // A failed allocation may still have extended the file: stay past it.
    auto size = s_.file->size();
    if (size.is_ok()) s_.file_end = std::max(s_.file_end, page_align(size.value()));
    return placed.status();
  }
  auto mapped = MappedRegion::map(s_.file->fd(), s_.opts.path, placed.value().data_offset, e.size, Access::kReadOnly);
  if (!mapped.is_ok()) {
    s_.file_end = placed.value().end;  // the range is written but unused: an orphan
    return mapped.status();
  }
  auto owned = std::make_shared<MappedRegion>(std::move(mapped).value());
  // Write-back starts now, so the disk works while the next weights are
  // packed and finalize only waits for what is left.
  platform::start_writeback(s_.file->fd(), placed.value().start, placed.value().end - placed.value().start);
  s_.flusher.add(owned, placed.value().start, placed.value().end - placed.value().start);
  e.kind = Kind::kFile;
  e.file_offset = placed.value().data_offset;
  e.data = owned->data();
  e.region = owned.get();
  e.storage = std::move(owned);
  s_.file_end = s_.known_size = placed.value().end;
  s_.unsaved = true;
  return Status::ok();
}

Result<bool> CacheWriter::save() {
  // Only the writer has anything of its own in the file: a reader's packs
  // are on the heap, and the writer saves the file (and any tail) itself.
  if (!s_.unsaved || s_.role != FileRole::kWriter) return false;
  s_.stats.flushed_bytes += s_.flusher.flush(s_.file->fd(), s_.opts.path, s_.opts.async_flush, &s_.stats.flush_ms);
  // The trailer vouches only for bytes that match: entries ExecuTorch wrote
  // get a checksum now, loaded ones nobody checked yet are checked.
  std::vector<std::string> bad;
  std::vector<Entry*> list;
  s_.table.for_each([&](Entry& e) {
    if (!e.in_file()) return;
    if (!e.has_checksum) {
      e.integrity.checksum = Xxh64::hash(e.data, e.size);
      e.has_checksum = e.verified = true;
    } else if (!e.verified) {
      if (Xxh64::hash(e.data, e.size) != e.integrity.checksum) {
        bad.push_back(e.name);
        return;
      }
      e.verified = true;
    }
    list.push_back(&e);
  });
  for (const auto& n : bad) s_.drop_corrupt(n);
  std::sort(list.begin(), list.end(), [](const Entry* a, const Entry* b) { return a->file_offset < b->file_offset; });
  std::vector<xpwc::IndexEntry> index;
  std::vector<xpwc::EntryIntegrity> integrity;
  for (const Entry* e : list) {
    index.push_back({e->name, e->file_offset, e->size, e->seed});
    integrity.push_back(e->integrity);
  }
  const uint64_t start = s_.file_end;
  const auto trailer = xpwc::serialize_trailer(index, integrity, start, s_.version);
  auto end = write_trailer_at(s_.file->fd(), s_.opts.path, start, trailer.bytes);
  if (!end.is_ok()) {
    // Whatever reached the file there is referenced by nothing; stay past it.
    s_.file_end = page_align(start + trailer.bytes.size());
    s_.stats.save_errors++;
    s_.stats.last_save_error = end.status().message();
    return end.status();
  }
  for (Entry* e : list) e->persistent = true;
  s_.trailer_end = s_.known_size = end.value();
  s_.file_end = page_align(end.value());
  s_.unsaved = false;
  s_.stats.saves++;
  // Every entry of the file was written or checked by this process: the
  // next one may trust the file while nobody changes it.
  auto ident = s_.file->identity();
  if (ident.is_ok()) write_stamp(s_.opts.path, {ident.value(), trailer.index_hash});
  return true;
}

}  // namespace weightkit::xnnpack
