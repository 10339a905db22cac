// weightkit/byte_source.hpp — bounded random access to untrusted bytes.
//
// Parsers of file formats read through a ByteSource instead of a pointer, so
// every read is bounds-checked against the size the source reported (a file
// at open time, or a fuzzer's buffer) and no parser can touch a byte it did
// not validate first.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>

#include "weightkit/mapped_file.hpp"
#include "weightkit/status.hpp"

namespace weightkit {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Total bytes available.
  virtual uint64_t size() const = 0;
  /// A name for messages (a path, or "<memory>").
  virtual const std::string& name() const = 0;

  /// Reads exactly n bytes at offset; WK_BAD_FORMAT if the range is outside.
  Status read(uint64_t offset, void* out, size_t n) const {
    if (offset > size() || n > size() - offset) {
      return Status(Code::kBadFormat, "'" + name() + "': read of " + std::to_string(n) + " bytes at offset " +
                                          std::to_string(offset) + " is past the end (" + std::to_string(size()) +
                                          " bytes; truncated file?)");
    }
    return read_unchecked(offset, out, n);
  }

  /// Reads [offset, offset+n) into a string.
  Result<std::string> read_string(uint64_t offset, size_t n) const {
    std::string s(n, '\0');
    Status st = read(offset, s.data(), n);
    if (!st.is_ok()) return st;
    return s;
  }

 protected:
  virtual Status read_unchecked(uint64_t offset, void* out, size_t n) const = 0;
};

/// Bytes already in memory (tests, fuzzers, small files).
class MemorySource final : public ByteSource {
 public:
  MemorySource(const void* data, size_t n, std::string name = "<memory>")
      : data_(static_cast<const uint8_t*>(data)), n_(n), name_(std::move(name)) {}
  uint64_t size() const override { return n_; }
  const std::string& name() const override { return name_; }

 protected:
  Status read_unchecked(uint64_t offset, void* out, size_t n) const override {
    if (n) std::memcpy(out, data_ + offset, n);
    return Status::ok();
  }

 private:
  const uint8_t* data_;
  size_t n_;
  std::string name_;
};

/// An open file read with pread (not owned); its size is fixed at construction.
class FdSource : public ByteSource {
 public:
  FdSource(int fd, uint64_t size, std::string name) : fd_(fd), size_(size), name_(std::move(name)) {}
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }
  int fd() const { return fd_; }

 protected:
  Status read_unchecked(uint64_t offset, void* out, size_t n) const override {
    auto* p = static_cast<uint8_t*>(out);
    while (n > 0) {
      ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return errno_status(errno, "read", name_);
      if (got == 0) return Status(Code::kBadFormat, "'" + name_ + "' shrank while being read");
      p += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return Status::ok();
  }

 private:
  int fd_;
  uint64_t size_;
  std::string name_;
};

namespace detail {
struct OwnedFd {
  UniqueFd owned;
};
}  // namespace detail

/// A file opened by path (O_NOFOLLOW, regular files only) and read with pread.
class FileSource final : private detail::OwnedFd, public FdSource {
 public:
  static Result<FileSource> open(const std::string& path) {
    auto fd = open_regular_file(path, OpenMode::kReadOnly);
    if (!fd.is_ok()) return fd.status();
    auto size = file_size(fd.value().get(), path);
    if (!size.is_ok()) return size.status();
    return FileSource(std::move(fd).value(), size.value(), path);
  }

 private:
  FileSource(UniqueFd fd, uint64_t size, std::string path)
      : detail::OwnedFd{std::move(fd)}, FdSource(owned.get(), size, std::move(path)) {}
};

/// A window [offset, offset+size) of another source (a zip member, a section).
class SliceSource final : public ByteSource {
 public:
  /// The caller has checked that the window lies inside `base`.
  SliceSource(const ByteSource& base, uint64_t offset, uint64_t size, std::string name)
      : base_(base), offset_(offset), size_(size), name_(std::move(name)) {}
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }

 protected:
  Status read_unchecked(uint64_t offset, void* out, size_t n) const override { return base_.read(offset_ + offset, out, n); }

 private:
  const ByteSource& base_;
  uint64_t offset_;
  uint64_t size_;
  std::string name_;
};

/// Little-endian loads from a byte buffer the caller has bounds-checked.
inline uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t load_le64(const uint8_t* p) {
  return static_cast<uint64_t>(load_le32(p)) | (static_cast<uint64_t>(load_le32(p + 4)) << 32);
}

/// *out = a + b (a * b); returns true when the result does not fit in 64 bits.
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

/// Reads a range of a source front to back through a buffer of bounded size,
/// so a parser never allocates by a length the file declares: at most
/// `buffer_bytes` (or the item asked for, which the caller has bounded by what
/// remains) are held at a time.
class ChunkReader {
 public:
  ChunkReader(const ByteSource& src, uint64_t begin, uint64_t end, size_t buffer_bytes = size_t{1} << 20)
      : src_(src), pos_(begin), end_(end), cap_(buffer_bytes) {}

  uint64_t position() const { return pos_ - (buf_.size() - at_); }
  uint64_t remaining() const { return end_ - position(); }

  /// The next n bytes (valid until the next call); WK_BAD_FORMAT past `end`.
  Result<const uint8_t*> take(size_t n) {
    if (n > remaining()) {
      return Status(Code::kBadFormat, "'" + src_.name() + "': " + std::to_string(n) + " bytes needed at offset " +
                                          std::to_string(position()) + " run past the end of the range");
    }
    if (buf_.size() - at_ < n) {
      std::string next;
      const uint64_t want = std::max<uint64_t>(n - (buf_.size() - at_), std::min<uint64_t>(cap_, end_ - pos_));
      next.reserve(buf_.size() - at_ + static_cast<size_t>(want));
      next.append(buf_, at_, std::string::npos);
      const size_t old = next.size();
      next.resize(old + static_cast<size_t>(want));
      Status st = src_.read(pos_, next.data() + old, static_cast<size_t>(want));
      if (!st.is_ok()) return st;
      pos_ += want;
      buf_ = std::move(next);
      at_ = 0;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(buf_.data()) + at_;
    at_ += n;
    return p;
  }

 private:
  const ByteSource& src_;
  uint64_t pos_, end_;
  size_t cap_;
  std::string buf_;
  size_t at_ = 0;
};

}  // namespace weightkit
