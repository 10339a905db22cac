// weightkit/platform.hpp — the one place Linux-only system calls are used.
//
// Platform policy (see packages/core/cmake/weightkit.cmake): weightkit builds
// and is tested on Linux with glibc. Everything below has a portable meaning;
// a port replaces these few functions, nothing else.
#pragma once

#if !defined(__linux__)
#error "weightkit's native cores build on Linux only (see weightkit.cmake's platform policy)"
#endif

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace weightkit::platform {

/// Starts writing [offset, offset+length) back to disk without waiting
/// (msync(MS_ASYNC) starts nothing on Linux).
inline void start_writeback(int fd, uint64_t offset, uint64_t length) {
  (void)::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
}

/// rename() that fails with EEXIST instead of replacing an existing file.
inline int rename_no_replace(const char* from, const char* to) { return ::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE); }

/// Swaps two existing paths in one step (both must exist on one file system):
/// a reader of either name sees the old or the new entry, never neither.
inline int exchange_paths(const char* a, const char* b) { return ::renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE); }

/// 64 unpredictable bits (for names no other user can guess).
inline uint64_t random_u64() {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    r = static_cast<uint64_t>(::getpid()) * 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(::time(nullptr)) ^ reinterpret_cast<uintptr_t>(&r);
  }
  return r;
}

/// An open-file-description lock on one byte (it belongs to this open of the
/// file, not to the process). Returns 0, or the errno that refused it.
inline int try_lock_byte(int fd, off_t byte, bool exclusive) {
  struct flock fl {};
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

inline void unlock_byte(int fd, off_t byte) {
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  (void)::fcntl(fd, F_OFD_SETLK, &fl);
}

/// mmap flags that pre-fault the mapping when asked.
inline int populate_flag(bool populate) { return populate ? MAP_POPULATE : 0; }

/// What prefault_for_write() managed: each step is best effort.
struct Prefault {
  bool huge_pages = false;  ///< MADV_HUGEPAGE accepted for the 2 MiB-aligned interior
  bool populated = false;   ///< MADV_POPULATE_WRITE faulted every whole page in
};

/// Faults in the whole pages of [data, data+len) for writing, in one system
/// call instead of one page fault per 4 KiB, and asks for transparent huge
/// pages where a whole 2 MiB block lies inside (buffers of 4 MiB and more, so
/// a small buffer never splits a heap mapping). Contents are unchanged. A
/// kernel without MADV_POPULATE_WRITE (before 5.14), THP set to `never`, or a
/// sandbox refusing madvise leaves the memory as it was: the writer then
/// faults the pages in itself, only slower.
inline Prefault prefault_for_write(void* data, size_t len) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14; glibc 2.31's headers predate it
#endif
  constexpr uintptr_t kPage = 4096;
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  Prefault done;
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t end = begin + len;
  const uintptr_t huge_begin = (begin + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t huge_end = end & ~(kHuge - 1);
  if (len >= 2 * kHuge && huge_end > huge_begin) {
    done.huge_pages = ::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE) == 0;
  }
  const uintptr_t page_begin = (begin + kPage - 1) & ~(kPage - 1);
  const uintptr_t page_end = end & ~(kPage - 1);
  if (page_end > page_begin) {
    done.populated = ::madvise(reinterpret_cast<void*>(page_begin), page_end - page_begin, MADV_POPULATE_WRITE) == 0;
  }
  return done;
}

}  // namespace weightkit::platform
