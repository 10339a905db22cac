#include "region_writer.hpp"

#include <unistd.h>

#include "weightkit/byte_source.hpp"

namespace weightkit::xnnpack {

Result<RegionPlace> write_region_after(int fd, const std::string& path, uint64_t file_end, const xpwc::RegionRecord& record,
                                       const uint8_t* data) {
  const uint64_t offset = region_start(file_end, record.data_size);
  const std::string header = xpwc::serialize_region_header(record);
  uint64_t data_end;
  if (add_overflows(offset, header.size(), &data_end) || add_overflows(data_end, record.data_size, &data_end) ||
      data_end > UINT64_MAX - page_size()) {
    return Status(Code::kBadArgument, "a region of " + std::to_string(record.data_size) + " bytes does not fit in the file");
  }
  const uint64_t end = page_align(data_end);
  Status st = allocate_range(fd, offset, end - offset, path);
  if (!st.is_ok()) return st;
  st = write_two_at(fd, header.data(), header.size(), data, static_cast<size_t>(record.data_size), offset, path);
  if (!st.is_ok()) return st;
  return RegionPlace{offset, offset + header.size(), end};
}

Result<uint64_t> write_trailer_at(int fd, const std::string& path, uint64_t offset, const std::string& bytes) {
  if (::fdatasync(fd) != 0) return errno_status(errno, "fdatasync", path);
  Status st = write_all_at(fd, bytes.data(), bytes.size(), offset, path);
  if (!st.is_ok()) return st;
  if (::fdatasync(fd) != 0) return errno_status(errno, "fdatasync", path);
  return offset + bytes.size();
}

uint64_t Flusher::flush(int fd, const std::string& path, bool async, double* ms) {
  if (pending_.empty()) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  for (const auto& p : pending_) {
    if (async) {
      platform::start_writeback(fd, p.offset, p.length);
    } else {
      (void)p.region->sync(0, p.region->size(), path);
    }
    bytes += p.length;
  }
  pending_.clear();
  *ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return bytes;
}

}  // namespace weightkit::xnnpack
