// The cache file and its locks. Three kinds of lock, each for one reason:
//
//   OFD lock, byte 0, exclusive  the writer: one process appends at a time
//   OFD lock, byte 1, shared     every user; compaction and the move-aside of
//                                a damaged file need it exclusively
//   flock(LOCK_SH)               held while the file is open, so ExecuTorch,
//                                which truncates a file it cannot load only
//                                after taking flock(LOCK_EX), never wipes a
//                                file weightkit is using; and refused when an
//                                ExecuTorch writer holds LOCK_EX
//
// Open-file-description locks belong to one open of the file, so two caches,
// a compaction and a test in one process conflict exactly as two processes
// would. A mapping keeps the open file description (and so its locks) alive
// after close(): every lock is released explicitly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "weightkit/mapped_file.hpp"
#include "weightkit/status.hpp"

namespace weightkit::xnnpack {

enum class LockByte : short { kWriter = 0, kUsers = 1 };

/// Tries (for up to wait_ms) to lock one byte; false when someone else holds it.
bool lock_byte(int fd, LockByte which, bool exclusive, int wait_ms = 0);
void unlock_byte(int fd, LockByte which);

class CacheFile {
 public:
  /// Opens (creating it 0600 when missing) the cache at `path`: read-only
  /// when the file or its folder cannot be written; refuses a file owned by
  /// another user; waits up to wait_ms for a compaction to finish, and opens
  /// again when the file was replaced meanwhile, so a writer never writes
  /// into a file compaction has already renamed away.
  static Result<std::unique_ptr<CacheFile>> open(const std::string& path, int wait_ms);
  ~CacheFile();
  CacheFile(const CacheFile&) = delete;
  CacheFile& operator=(const CacheFile&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  /// True when another program (an ExecuTorch writer) holds flock(LOCK_EX):
  /// the file may be truncated at any moment and must not be mapped.
  bool held_by_another_program() const { return !flock_held_; }

  Result<uint64_t> size() const { return file_size(fd(), path_); }
  Result<FileIdentity> identity() const { return file_identity(fd(), path_); }

  /// Takes the writer lock (waiting up to wait_ms); false when another writer holds it.
  bool take_writer(int wait_ms);
  bool writer() const { return writer_; }
  /// Tries to hold the users lock exclusively: true when nobody else has the file open.
  bool sole_user();
  void end_sole_user();

  /// Moves a damaged file aside to <path>.invalid-<pid>-<n> (never over an
  /// existing name) and starts a new, empty file in its place. Needs sole_user().
  Result<std::string> move_aside_and_recreate();

 private:
  CacheFile() = default;
  void release_locks();

  std::string path_;
  UniqueFd fd_;
  bool read_only_ = false;
  bool flock_held_ = false;
  bool writer_ = false;
};

/// A new file beside `target` that no other user can have prepared: created
/// with O_EXCL | O_NOFOLLOW under a random name `<target>.<tag>-<random>`.
/// `commit` renames it over `target`.
class PrivateTempFile {
 public:
  static Result<PrivateTempFile> create(const std::string& target, const std::string& tag);
  PrivateTempFile(PrivateTempFile&&) = default;
  PrivateTempFile& operator=(PrivateTempFile&&) = default;
  ~PrivateTempFile();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  /// fsync, rename over the target, fsync the folder.
  Status commit();

 private:
  PrivateTempFile() = default;
  std::string target_, path_;
  UniqueFd fd_;
  bool committed_ = false;
};

/// Removes `<target>.<tag>-*` files this user left behind (a killed
/// compaction); only regular files owned by this user, never through a link.
void remove_stale_temp_files(const std::string& target, const std::string& tag);

/// The folder of `path` ("." for a bare name).
std::string folder_of(const std::string& path);

}  // namespace weightkit::xnnpack
