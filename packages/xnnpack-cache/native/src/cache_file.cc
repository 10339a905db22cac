#include "cache_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "weightkit/platform.hpp"

namespace weightkit::xnnpack {
namespace {

void nap_10ms() {
  struct timespec ts {0, 10 * 1000 * 1000};
  ::nanosleep(&ts, nullptr);
}

bool lock_busy(int err) { return err == EAGAIN || err == EACCES || err == EINTR || err == EWOULDBLOCK; }

/// flock(LOCK_SH) with retries for up to wait_ms.
bool flock_shared(int fd, int wait_ms) {
  for (int waited = 0;; waited += 10) {
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) return true;
    if (!lock_busy(errno) || waited >= wait_ms) return false;
    nap_10ms();
  }
}

std::string random_suffix() {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(platform::random_u64()));
  return buf;
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool lock_byte(int fd, LockByte which, bool exclusive, int wait_ms) {
  for (int waited = 0;; waited += 10) {
    const int err = platform::try_lock_byte(fd, static_cast<off_t>(which), exclusive);
    if (err == 0) return true;
    if (!lock_busy(err) || waited >= wait_ms) return false;
    nap_10ms();
  }
}

void unlock_byte(int fd, LockByte which) { platform::unlock_byte(fd, static_cast<off_t>(which)); }

Result<std::unique_ptr<CacheFile>> CacheFile::open(const std::string& path, int wait_ms) {
  // A compaction that finishes while we wait for the users lock has renamed a
  // new file over `path`: the descriptor we hold then names the old one, and
  // anything saved into it would be lost. Open again until both agree.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::unique_ptr<CacheFile> f(new CacheFile());
    f->path_ = path;
    auto fd = open_regular_file(path, OpenMode::kReadWriteCreate);
    if (!fd.is_ok()) {
      // A read-only file system or a file we may only read: still usable for hits.
      auto ro = open_regular_file(path, OpenMode::kReadOnly);
      if (!ro.is_ok()) return fd.status();
      fd = std::move(ro);
      f->read_only_ = true;
    }
    f->fd_ = std::move(fd).value();
    struct stat st;
    if (::fstat(f->fd(), &st) != 0) return errno_status(errno, "stat", path);
    if (st.st_uid != ::geteuid()) {
      return Status(Code::kBadArgument, "'" + path + "' is owned by another user (uid " + std::to_string(st.st_uid) +
                                            "); weightkit only maps cache files you own");
    }
    if (!lock_byte(f->fd(), LockByte::kUsers, false, std::max(wait_ms, 0))) {
      return Status(Code::kLocked, "'" + path + "' is being compacted by another process; retry");
    }
    auto now = path_identity(path);
    if (!now.is_ok() || !now.value().same_file(identity_of(st))) continue;  // replaced meanwhile
    f->flock_held_ = flock_shared(f->fd(), std::max(wait_ms, 0));
    return f;
  }
  return Status(Code::kLocked, "'" + path + "' keeps being replaced while it is opened; retry");
}

CacheFile::~CacheFile() { release_locks(); }

void CacheFile::release_locks() {
  if (!fd_.valid()) return;
  unlock_byte(fd(), LockByte::kWriter);
  unlock_byte(fd(), LockByte::kUsers);
  if (flock_held_) (void)::flock(fd(), LOCK_UN);
  writer_ = false;
  flock_held_ = false;
}

bool CacheFile::take_writer(int wait_ms) {
  if (writer_) return true;
  if (read_only_) return false;
  writer_ = lock_byte(fd(), LockByte::kWriter, true, std::max(wait_ms, 0));
  return writer_;
}

bool CacheFile::sole_user() { return lock_byte(fd(), LockByte::kUsers, true); }

void CacheFile::end_sole_user() { (void)lock_byte(fd(), LockByte::kUsers, false); }

Result<std::string> CacheFile::move_aside_and_recreate() {
  std::string aside;
  for (int attempt = 0;; ++attempt) {
    aside = path_ + ".invalid-" + std::to_string(::getpid()) + "-" + random_suffix().substr(0, 8);
    if (platform::rename_no_replace(path_.c_str(), aside.c_str()) == 0) break;
    if (errno != EEXIST || attempt > 8) return errno_status(errno, "move aside", path_);
  }
  release_locks();
  auto fresh = open_regular_file(path_, OpenMode::kCreateExclusive);
  if (!fresh.is_ok()) fresh = open_regular_file(path_, OpenMode::kReadWriteCreate);  // another process was first
  if (!fresh.is_ok()) return fresh.status();
  fd_ = std::move(fresh).value();
  if (!lock_byte(fd(), LockByte::kUsers, false)) return Status(Code::kLocked, "'" + path_ + "' is being compacted");
  flock_held_ = flock_shared(fd(), 0);
  return aside;
}

Result<PrivateTempFile> PrivateTempFile::create(const std::string& target, const std::string& tag) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    PrivateTempFile t;
    t.target_ = target;
    t.path_ = target + "." + tag + "-" + random_suffix();
    int fd = ::open(t.path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      t.fd_.reset(fd);
      return t;
    }
    if (errno != EEXIST) return errno_status(errno, "create", t.path_);
  }
  return Status(Code::kIo, "cannot create a private temporary file beside '" + target + "'");
}

PrivateTempFile::~PrivateTempFile() {
  if (!committed_ && !path_.empty() && fd_.valid()) ::unlink(path_.c_str());
}

Status PrivateTempFile::commit() {
  if (::fsync(fd()) != 0) return errno_status(errno, "fsync", path_);
  if (::rename(path_.c_str(), target_.c_str()) != 0) return errno_status(errno, "replace", target_);
  committed_ = true;
  UniqueFd dir(::open(folder_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) (void)::fsync(dir.get());
  return Status::ok();
}

void remove_stale_temp_files(const std::string& target, const std::string& tag) {
  const std::string folder = folder_of(target);
  const std::string prefix = base_of(target) + "." + tag + "-";
  UniqueFd dfd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) return;
  DIR* d = ::fdopendir(::dup(dfd.get()));
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) != 0) continue;
    struct stat st;
    if (::fstatat(dfd.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) (void)::unlinkat(dfd.get(), e->d_name, 0);
  }
  ::closedir(d);
}

}  // namespace weightkit::xnnpack
