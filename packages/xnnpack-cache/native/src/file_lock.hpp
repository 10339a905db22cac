// Open-file-description byte-range locks on the cache file. Unlike flock()
// or classic fcntl locks they belong to one open file description, so two
// caches, a compaction and a test in one process conflict exactly as two
// processes would.
//   byte 0: the writer (exclusive)     byte 1: users (shared; compaction takes it exclusively)
#pragma once

#include <fcntl.h>
#include <time.h>

#include <cerrno>

namespace weightkit::xnnpack {

enum class LockByte : short { kWriter = 0, kUsers = 1 };

/// Tries (for up to wait_ms) to lock one byte; false when someone else holds it.
inline bool lock_byte(int fd, LockByte which, bool exclusive, int wait_ms = 0) {
  struct flock fl {};
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<short>(which);
  fl.l_len = 1;
  for (int waited = 0;; waited += 10) {
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
    if ((errno != EAGAIN && errno != EACCES && errno != EINTR) || waited >= wait_ms) return false;
    struct timespec ts {0, 10 * 1000 * 1000};
    ::nanosleep(&ts, nullptr);
  }
}

inline void unlock_byte(int fd, LockByte which) {
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<short>(which);
  fl.l_len = 1;
  (void)::fcntl(fd, F_OFD_SETLK, &fl);
}

}  // namespace weightkit::xnnpack
