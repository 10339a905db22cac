// Appending to an XPWC file: regions (a record, then the packed bytes), write-
// back of what was appended, and trailers. The same two functions write a live
// cache and a compacted copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weightkit/mapped_file.hpp"
#include "weightkit/status.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

namespace weightkit::xnnpack {

inline uint64_t page_align(uint64_t v) { return (v + page_size() - 1) / page_size() * page_size(); }

/// Where a region of `data_size` bytes starts when the file's regions end at
/// `end`: the next page, or, when its data fills at least one 2 MiB block,
/// the next 2 MiB boundary. Written there, the page cache holds the region in
/// 2 MiB folios that a reader's mapping maps with one page-table entry each;
/// on 4 KiB folios the first read of every page costs ~1.7 us even after
/// MADV_POPULATE_READ on the virtual machines measured (docs/bench/xnnpack.md).
/// The gap stays a hole: no disk space, and every region is still at a
/// page-aligned offset as the XPWC format asks.
inline uint64_t region_start(uint64_t end, uint64_t data_size) {
  constexpr uint64_t kHuge = uint64_t{2} << 20;
  if (data_size < kHuge || end > UINT64_MAX - kHuge) return page_align(end);
  return (end + kHuge - 1) / kHuge * kHuge;
}

/// Where a region went: where it starts, the data's offset and the page-aligned end of the region.
struct RegionPlace {
  uint64_t start = 0;
  uint64_t data_offset = 0;
  uint64_t end = 0;
};

/// Reserves blocks (a full disk fails here, WK_NO_SPACE) and writes the record
/// and the data at region_start(end, data size): the one placement rule of
/// live caches and compacted copies alike.
Result<RegionPlace> write_region_after(int fd, const std::string& path, uint64_t end, const xpwc::RegionRecord& record,
                                       const uint8_t* data);

/// fdatasync, the serialized trailer at `offset`, fdatasync: the data is
/// durable before anything refers to it, and a crash leaves the previous
/// trailer findable. Returns the byte after the footer.
Result<uint64_t> write_trailer_at(int fd, const std::string& path, uint64_t offset, const std::string& trailer);

/// Regions appended to a live cache since the last flush, written back on
/// finalize: with msync(MS_SYNC) (pages clean afterwards) or, with async_flush,
/// by starting write-back and returning.
class Flusher {
 public:
  void add(std::shared_ptr<const MappedRegion> region, uint64_t file_offset, uint64_t length) {
    pending_.push_back({std::move(region), file_offset, length});
  }
  /// Returns the bytes flushed and adds the time spent to *ms.
  uint64_t flush(int fd, const std::string& path, bool async, double* ms);
  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    std::shared_ptr<const MappedRegion> region;
    uint64_t offset, length;
  };
  std::vector<Pending> pending_;
};

}  // namespace weightkit::xnnpack
