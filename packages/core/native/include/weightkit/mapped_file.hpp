// weightkit/mapped_file.hpp — a small portable-POSIX mapping layer.
//
// Invariants every core relies on:
//  * a file is opened with O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK and must be a
//    regular file: a FIFO or device is refused at once instead of blocking the
//    opening thread until some writer appears;
//  * the range to map is checked against fstat() BEFORE mmap(), so a mapping
//    never extends past the end of the file as it was when validated;
//  * callers get the exact byte range they asked for even though mmap works in
//    pages: the page-aligned base is hidden inside MappedRegion.
// A file that shrinks after validation can still raise SIGBUS on Linux; the
// cores that write files hold locks so their own files never shrink under a
// reader (see docs/reliability.md).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "weightkit/platform.hpp"
#include "weightkit/status.hpp"

namespace weightkit {

inline size_t page_size() {
  static const size_t kPage = [] {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<size_t>(p) : size_t{4096};
  }();
  return kPage;
}

/// Status for a failed system call: the code follows errno, the message names
/// what was being done and to which path.
inline Status errno_status(int err, const std::string& what, const std::string& path) {
  Code code = Code::kIo;
  std::string hint;
  switch (err) {
    case ENOENT: code = Code::kNotFound; hint = "check the path"; break;
    case ELOOP: code = Code::kBadArgument; hint = "the path ends in a symbolic link (or a loop of them), which is not opened here; pass the real path"; break;
    case ENOSPC:
    case EDQUOT: code = Code::kNoSpace; hint = "free disk space or choose another location"; break;
    case EACCES:
    case EPERM: hint = "check the file's permissions"; break;
    case EISDIR: code = Code::kBadArgument; hint = "pass a file, not a directory"; break;
    case ENOTDIR: code = Code::kBadArgument; hint = "a part of the path before its end is a file, not a folder"; break;
    case EWOULDBLOCK: code = Code::kLocked; hint = "another process holds the file"; break;
    case EROFS: hint = "the file system is read-only"; break;
    default: break;
  }
  std::string msg = what + " '" + path + "' failed: " + std::strerror(err);
  if (!hint.empty()) msg += " (" + hint + ")";
  return Status(code, msg);
}

/// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { int f = fd_; fd_ = -1; return f; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

enum class OpenMode {
  kReadOnly,
  kReadWrite,        // existing file
  kReadWriteCreate,  // created 0600 when missing
  kCreateExclusive,  // a new file, 0600; fails (EEXIST) when the name is taken
};

/// Opens `path` without following a final symlink and checks it is a regular
/// file. O_NONBLOCK keeps a FIFO from blocking the open; it is cleared again
/// (it means nothing for regular files, but a descriptor handed on should not
/// carry it).
inline Result<UniqueFd> open_regular_file(const std::string& path, OpenMode mode) {
  int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  switch (mode) {
    case OpenMode::kReadOnly: flags |= O_RDONLY; break;
    case OpenMode::kReadWrite: flags |= O_RDWR; break;
    case OpenMode::kReadWriteCreate: flags |= O_RDWR | O_CREAT; break;
    case OpenMode::kCreateExclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
  }
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno_status(errno, "open", path);
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_status(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kBadArgument, "'" + path + "' is not a regular file (a FIFO, device, socket or directory); pass a weights file");
  }
  (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return owned;
}

/// What identifies a file's contents as of a moment: a replaced file has
/// another (dev, ino); one rewritten in place another size or change time.
struct FileIdentity {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool same_file(const FileIdentity& o) const { return dev == o.dev && ino == o.ino; }
  bool operator==(const FileIdentity& o) const {
    return same_file(o) && size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
  }
  bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};

inline FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return id;
}

inline Result<FileIdentity> file_identity(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_status(errno, "stat", path);
  return identity_of(st);
}

/// An opaque text form, so JavaScript can carry an identity from one addon to another.
inline std::string to_token(const FileIdentity& id) {
  return std::to_string(id.dev) + ":" + std::to_string(id.ino) + ":" + std::to_string(id.size) + ":" + std::to_string(id.mtime_ns) + ":" +
         std::to_string(id.ctime_ns);
}

inline bool from_token(const std::string& text, FileIdentity* id) {
  unsigned long long dev, ino, size;
  long long mtime, ctime;
  char tail;
  if (std::sscanf(text.c_str(), "%llu:%llu:%llu:%lld:%lld%c", &dev, &ino, &size, &mtime, &ctime, &tail) != 5) return false;
  *id = FileIdentity{dev, ino, size, mtime, ctime};
  return true;
}

/// The identity of whatever is at `path` now (a symlink is not followed).
inline Result<FileIdentity> path_identity(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errno_status(errno, "stat", path);
  return identity_of(st);
}

/// Writes all of [data, data+n) at `offset`, retrying short writes and EINTR.
inline Status write_all_at(int fd, const void* data, size_t n, uint64_t offset, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return errno_status(w < 0 ? errno : EIO, "write", path);
    done += static_cast<size_t>(w);
  }
  return Status::ok();
}

/// Writes two buffers back to back at `offset` (one system call when it can).
inline Status write_two_at(int fd, const void* a, size_t na, const void* b, size_t nb, uint64_t offset, const std::string& path) {
  struct iovec iov[2] = {{const_cast<void*>(a), na}, {const_cast<void*>(b), nb}};
  ssize_t w;
  do {
    w = ::pwritev(fd, iov, 2, static_cast<off_t>(offset));
  } while (w < 0 && errno == EINTR);
  if (w < 0) return errno_status(errno, "write", path);
  const size_t done = static_cast<size_t>(w);
  if (done >= na + nb) return Status::ok();
  if (done < na) {
    Status st = write_all_at(fd, static_cast<const uint8_t*>(a) + done, na - done, offset + done, path);
    if (!st.is_ok()) return st;
    return write_all_at(fd, b, nb, offset + na, path);
  }
  return write_all_at(fd, static_cast<const uint8_t*>(b) + (done - na), nb - (done - na), offset + done, path);
}

/// Allocates blocks for [offset, offset+length): a full disk is an error here
/// rather than a SIGBUS when a mapping touches a page later.
inline Status allocate_range(int fd, uint64_t offset, uint64_t length, const std::string& path) {
  if (length == 0) return Status::ok();
  int err = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
  if (err != 0) return errno_status(err, "reserve space in", path);
  return Status::ok();
}

/// Current size of an open file.
inline Result<uint64_t> file_size(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_status(errno, "stat", path);
  return static_cast<uint64_t>(st.st_size);
}

enum class Access { kReadOnly, kSharedWritable };

/// kHugePages: the range may be read into the page cache in 2 MiB folios and
/// mapped 2 MiB at a time (MADV_HUGEPAGE; honoured where transparent huge
/// pages are `always` or `madvise`): one fault and one page-table entry per
/// 2 MiB instead of per 16 pages, for ranges read through in full.
enum class Advice { kNormal, kSequential, kRandom, kWillNeed, kDontNeed, kHugePages };

inline int advice_flag(Advice a) {
  switch (a) {
    case Advice::kSequential: return MADV_SEQUENTIAL;
    case Advice::kRandom: return MADV_RANDOM;
    case Advice::kWillNeed: return MADV_WILLNEED;
    case Advice::kDontNeed: return MADV_DONTNEED;
    case Advice::kHugePages: return MADV_HUGEPAGE;
    case Advice::kNormal: break;
  }
  return MADV_NORMAL;
}

/// One mmap'd byte range of a file. Move-only; unmaps on destruction.
class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(MappedRegion&& o) noexcept { *this = std::move(o); }
  MappedRegion& operator=(MappedRegion&& o) noexcept {
    if (this != &o) {
      unmap();
      base_ = o.base_; base_len_ = o.base_len_; data_ = o.data_; size_ = o.size_; access_ = o.access_;
      o.base_ = nullptr; o.base_len_ = 0; o.data_ = nullptr; o.size_ = 0;
    }
    return *this;
  }
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion() { unmap(); }

  /// Maps [offset, offset+length) of `fd`. The range is validated against the
  /// file's current size first; a range past EOF is WK_BAD_FORMAT (the usual
  /// cause is a truncated file), never a mapping that could SIGBUS.
  static Result<MappedRegion> map(int fd, const std::string& path, uint64_t offset, uint64_t length,
                                  Access access, bool populate = false) {
    auto size = file_size(fd, path);
    if (!size.is_ok()) return size.status();
    if (offset > size.value() || length > size.value() - offset) {
      return Status(Code::kBadFormat,
                    "'" + path + "' is " + std::to_string(size.value()) + " bytes but bytes [" +
                        std::to_string(offset) + ", " + std::to_string(offset) + "+" + std::to_string(length) +
                        ") were expected (truncated or wrong file?)");
    }
    MappedRegion r;
    r.access_ = access;
    if (length == 0) return r;
    if (length > std::numeric_limits<size_t>::max() - page_size()) {
      return Status(Code::kUnsupported, "range of '" + path + "' is too large to map on this platform");
    }
    const uint64_t aligned = offset - offset % page_size();
    const size_t slack = static_cast<size_t>(offset - aligned);
    const size_t map_len = static_cast<size_t>(length) + slack;
    int prot = access == Access::kReadOnly ? PROT_READ : PROT_READ | PROT_WRITE;
    const int flags = MAP_SHARED | platform::populate_flag(populate);
    void* p = ::mmap(nullptr, map_len, prot, flags, fd, static_cast<off_t>(aligned));
    if (p == MAP_FAILED) return errno_status(errno, "mmap", path);
    r.base_ = p;
    r.base_len_ = map_len;
    r.data_ = static_cast<uint8_t*>(p) + slack;
    r.size_ = static_cast<size_t>(length);
    return r;
  }

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool writable() const { return access_ == Access::kSharedWritable; }

  /// A hint to the kernel about [offset, offset+length) of this region. Hints
  /// never fail the caller: the kernel may ignore them anyway.
  void advise(Advice a, size_t offset = 0, size_t length = SIZE_MAX) const {
    if (!base_ || offset >= size_) return;
    length = std::min(length, size_ - offset);
    auto* start = data_ + offset;
    auto* aligned = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(start) & ~(page_size() - 1));
    (void)::madvise(aligned, length + static_cast<size_t>(start - aligned), advice_flag(a));
  }

  /// Writes dirty pages of [offset, offset+length) back to the file and waits.
  Status sync(size_t offset, size_t length, const std::string& path) const {
    if (!base_ || offset >= size_) return Status::ok();
    length = std::min(length, size_ - offset);
    auto* start = data_ + offset;
    auto* aligned = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(start) & ~(page_size() - 1));
    if (::msync(aligned, length + static_cast<size_t>(start - aligned), MS_SYNC) != 0) {
      return errno_status(errno, "msync", path);
    }
    return Status::ok();
  }

 private:
  void unmap() {
    if (base_) ::munmap(base_, base_len_);
    base_ = nullptr;
    data_ = nullptr;
    size_ = base_len_ = 0;
  }

  void* base_ = nullptr;
  size_t base_len_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  Access access_ = Access::kReadOnly;
};

/// A whole read-only file (or a validated range of it) mapped once and shared
/// by every view handed out; views keep it alive through shared_ptr.
class MappedFile {
 public:
  struct Options {
    uint64_t offset = 0;
    uint64_t length = UINT64_MAX;  // UINT64_MAX: to the end of the file
    bool populate = false;
  };

  static Result<std::shared_ptr<MappedFile>> open_read(const std::string& path, Options opts) {
    auto fd = open_regular_file(path, OpenMode::kReadOnly);
    if (!fd.is_ok()) return fd.status();
    auto id = file_identity(fd.value().get(), path);
    if (!id.is_ok()) return id.status();
    uint64_t length = opts.length;
    if (length == UINT64_MAX) {
      if (opts.offset > id.value().size) {
        return Status(Code::kBadFormat, "offset " + std::to_string(opts.offset) + " is past the end of '" + path + "'");
      }
      length = id.value().size - opts.offset;
    }
    auto region = MappedRegion::map(fd.value().get(), path, opts.offset, length, Access::kReadOnly, opts.populate);
    if (!region.is_ok()) return region.status();
    auto file = std::shared_ptr<MappedFile>(new MappedFile());
    file->path_ = path;
    file->identity_ = id.value();
    file->region_ = std::move(region).value();
    return file;
  }

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return identity_.size; }
  /// The file as it was when mapped (device, inode, size, times).
  const FileIdentity& identity() const { return identity_; }
  const MappedRegion& region() const { return region_; }
  const uint8_t* data() const { return region_.data(); }
  size_t size() const { return region_.size(); }

 private:
  MappedFile() = default;
  std::string path_;
  FileIdentity identity_;
  MappedRegion region_;
};

}  // namespace weightkit
