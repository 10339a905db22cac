// Whole-file operations that need no open cache: inspect, verify, compact.
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "cache_file.hpp"
#include "region_writer.hpp"
#include "verified_stamp.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/xxhash64.hpp"
#include "weightkit/xnnpack/cache.hpp"

namespace weightkit::xnnpack {
namespace {

Result<xpwc::Found> newest_trailer(const ByteSource& src, const std::string& path) {
  auto found = xpwc::find_last_trailer(src);
  if (!found.is_ok()) return found.status();
  if (!found.value().trailer) {
    if (!found.value().eof_status.is_ok()) return found.value().eof_status;
    return Status(Code::kBadFormat, "'" + path + "' has no valid XPWC trailer (not a packed-weights cache, or damaged beyond recovery)");
  }
  return found;
}

uint64_t compacted_size(const std::vector<xpwc::IndexEntry>& entries) {
  uint64_t end = 0;
  for (const auto& e : entries) end = region_start(end, e.size) + xpwc::region_header_size(e.name.size()) + e.size;
  end = page_align(end);
  return end + xpwc::serialize_trailer(entries, {}, end).bytes.size();
}

}  // namespace

Result<FileInfo> inspect_file(const std::string& path) {
  auto src = FileSource::open(path);
  if (!src.is_ok()) return src.status();
  auto found = newest_trailer(src.value(), path);
  if (!found.is_ok()) return found.status();
  const xpwc::Trailer& t = *found.value().trailer;
  FileInfo info;
  info.version = t.version;
  info.file_bytes = src.value().size();
  info.recovered = found.value().recovered;
  info.footer_at_eof = !found.value().recovered;
  info.tail_bytes = info.file_bytes - t.end;
  info.integrity = t.integrity.has_value();
  info.entries = t.entries;
  const uint64_t need = compacted_size(t.entries);
  info.orphan_bytes = info.file_bytes > need ? info.file_bytes - need : 0;
  return info;
}

Result<VerifyReport> verify_file(const std::string& path) {
  auto src = FileSource::open(path);
  if (!src.is_ok()) return src.status();
  auto found = newest_trailer(src.value(), path);
  if (!found.is_ok()) return found.status();
  const xpwc::Trailer& t = *found.value().trailer;
  VerifyReport r;
  if (!t.integrity) {
    r.unchecked = t.entries.size();
    return r;
  }
  // Entries are hashed on every core (pread is safe to share): XXH64 runs at
  // ~8 GB/s on one core here, slower than the page cache reads.
  const size_t n = t.entries.size();
  std::vector<uint64_t> sums(n, 0);
  std::vector<Status> errors(n, Status::ok());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      auto h = xpwc::hash_range(src.value(), t.entries[i].offset, t.entries[i].size);
      if (h.is_ok()) sums[i] = h.value();
      else errors[i] = h.status();
    }
  };
  const size_t workers = std::min<size_t>({n, std::max(1u, std::thread::hardware_concurrency()), 8});
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i].is_ok()) return errors[i];
    r.checked++;
    if (sums[i] != (*t.integrity)[i].checksum) r.bad.push_back(t.entries[i].name);
  }
  std::sort(r.bad.begin(), r.bad.end());
  return r;
}

Result<CompactReport> compact_file(const std::string& path) {
  auto fd = open_regular_file(path, OpenMode::kReadWrite);
  if (!fd.is_ok()) return fd.status();
  const int in = fd.value().get();
  if (!lock_byte(in, LockByte::kUsers, true) || !lock_byte(in, LockByte::kWriter, true)) {
    return Status(Code::kLocked, "'" + path + "' is in use (a process has it open); close it before compacting");
  }
  // Nobody else has the file open: what a killed compaction left is stale.
  remove_stale_temp_files(path, "compact");
  auto size = file_size(in, path);
  if (!size.is_ok()) return size.status();
  FdSource src(in, size.value(), path);
  auto found = newest_trailer(src, path);
  if (!found.is_ok()) return found.status();
  const xpwc::Trailer& t = *found.value().trailer;

  // What the trailer lists, then whole regions a killed writer left after it.
  struct Source {
    xpwc::RegionRecord record;
    uint64_t offset;
    bool checked;
  };
  std::vector<Source> sources;
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const auto& e = t.entries[i];
    xpwc::EntryIntegrity in_rec = t.integrity ? (*t.integrity)[i] : xpwc::EntryIntegrity{};
    sources.push_back({{e.name, e.seed, e.size, in_rec}, e.offset, t.integrity.has_value()});
  }
  auto tail = xpwc::scan_regions(src, t.end, size.value(), page_size(), nullptr);
  if (!tail.is_ok()) return tail.status();
  for (auto& r : tail.value()) {
    auto same = std::find_if(sources.begin(), sources.end(), [&](const Source& s) { return s.record.name == r.record.name; });
    if (same != sources.end()) sources.erase(same);  // the later pack supersedes
    sources.push_back({std::move(r.record), r.data_offset, true});
  }

  auto out = PrivateTempFile::create(path, "compact");
  if (!out.is_ok()) return out.status();
  const int ofd = out.value().fd();
  CompactReport report;
  report.bytes_before = size.value();
  std::vector<xpwc::IndexEntry> index;
  std::vector<xpwc::EntryIntegrity> integrity;
  uint64_t end = 0;
  for (auto& s : sources) {
    // Copied from a read-only mapping of the validated range: nothing is
    // allocated by the size an entry declares.
    auto data = MappedRegion::map(in, path, s.offset, s.record.data_size, Access::kReadOnly);
    if (!data.is_ok()) return data.status();
    const uint64_t sum = data.value().size() ? Xxh64::hash(data.value().data(), data.value().size()) : Xxh64::hash("", 0);
    if (s.checked && sum != s.record.integrity.checksum) {
      report.dropped.push_back(s.record.name);  // damaged: packed again on next use
      continue;
    }
    s.record.integrity.checksum = sum;  // entries ExecuTorch wrote get one now
    auto placed = write_region_after(ofd, out.value().path(), end, s.record, data.value().data());
    if (!placed.is_ok()) return placed.status();
    index.push_back({s.record.name, placed.value().data_offset, s.record.data_size, s.record.seed});
    integrity.push_back(s.record.integrity);
    end = placed.value().end;
  }
  const auto trailer = xpwc::serialize_trailer(index, integrity, end, t.version);
  auto written = write_trailer_at(ofd, out.value().path(), end, trailer.bytes);
  if (!written.is_ok()) return written.status();
  Status st = out.value().commit();
  if (!st.is_ok()) return st;
  // Every entry of the new file was checked while copying.
  auto ident = file_identity(ofd, path);
  if (ident.is_ok()) write_stamp(path, {ident.value(), trailer.index_hash});
  report.bytes_after = written.value();
  report.entries = index.size();
  std::sort(report.dropped.begin(), report.dropped.end());
  return report;
}

}  // namespace weightkit::xnnpack
