// Buffers packers write into. A reservation is a staging buffer: insert
// writes its bytes to the file and gives the buffer back for the next one, or
// keeps it as the entry's storage when the entry stays on the heap. Packing
// into a reused hot buffer and writing it with one pwrite costs less than
// packing into a writable mapping of fresh file blocks (a zero-fill read per
// page, a write fault per page, TLB shootdowns when write-back starts).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

namespace weightkit::xnnpack {

constexpr size_t kPackedAlignment = 64;  // XNN_ALLOCATION_ALIGNMENT on x86-64

/// A 64-byte aligned heap block of at least n bytes, or null.
inline std::shared_ptr<uint8_t> aligned_block(size_t n) {
  const size_t rounded = (std::max<size_t>(n, 1) + kPackedAlignment - 1) / kPackedAlignment * kPackedAlignment;
  void* p = std::aligned_alloc(kPackedAlignment, rounded);
  if (!p) return nullptr;
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

class StagingPool {
 public:
  /// A buffer of at least n bytes (the smallest kept one that fits, else new).
  std::shared_ptr<uint8_t> take(size_t n, size_t* capacity) {
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= n && (best == free_.end() || it->second < best->second)) best = it;
    }
    if (best != free_.end()) {
      auto buf = std::move(best->first);
      *capacity = best->second;
      free_.erase(best);
      return buf;
    }
    *capacity = std::max<size_t>(n, 1);
    return aligned_block(*capacity);
  }

  /// Keeps a buffer for reuse unless something else (a JavaScript view of the
  /// reservation) still holds it: then it is freed with its last holder.
  void give(std::shared_ptr<uint8_t> buf, size_t capacity) {
    if (!buf || buf.use_count() != 1) return;
    free_.emplace_back(std::move(buf), capacity);
    std::sort(free_.begin(), free_.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (free_.size() > kKept) free_.resize(kKept);
  }

  /// Packing is over for now: give the memory back.
  void clear() { free_.clear(); }

 private:
  static constexpr size_t kKept = 2;  // the largest ones
  std::vector<std::pair<std::shared_ptr<uint8_t>, size_t>> free_;
};

}  // namespace weightkit::xnnpack
