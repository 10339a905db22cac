// weightkit/path_lock.hpp — an exclusive writer's lock held in a small lock
// file, released by close or by the process's death (never left stale).
#pragma once

#include <fcntl.h>

#include <string>

#include "weightkit/mapped_file.hpp"
#include "weightkit/platform.hpp"

namespace weightkit {

class PathLock {
 public:
  /// Takes the lock in `lock_path` (created 0644 when missing) without
  /// waiting; WK_LOCKED names `what` when another writer holds it.
  static Result<PathLock> try_acquire(const std::string& lock_path, const std::string& what) {
    int fd;
    do {
      fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno_status(errno, "open the lock file", lock_path);
    UniqueFd owned(fd);
    const int err = platform::try_lock_byte(fd, 0, true);
    if (err == EAGAIN || err == EACCES) {
      return Status(Code::kLocked, "another writer is writing " + what + " (it holds '" + lock_path + "'); wait for it and retry");
    }
    if (err != 0) return errno_status(err, "lock", lock_path);
    PathLock l;
    l.fd_ = std::move(owned);
    return l;
  }

  void release() { fd_.reset(); }

 private:
  PathLock() = default;
  UniqueFd fd_;
};

}  // namespace weightkit
