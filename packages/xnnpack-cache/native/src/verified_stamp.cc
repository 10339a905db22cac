#include "verified_stamp.hpp"

#include <unistd.h>

#include "cache_file.hpp"
#include "weightkit/byte_source.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {
namespace {

constexpr uint32_t kStampMagic = 0x3156574b;  // "KWV1"
constexpr size_t kStampSize = 4 + 8 * 6 + 8;  // magic | dev ino size mtime ctime index_hash | hash of the rest

void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

std::string stamp_path(const std::string& cache_path) { return cache_path + ".verified"; }

std::optional<VerifiedStamp> read_stamp(const std::string& cache_path) {
  auto src = FileSource::open(stamp_path(cache_path));
  if (!src.is_ok() || src.value().size() != kStampSize) return std::nullopt;
  uint8_t b[kStampSize];
  if (!src.value().read(0, b, sizeof b).is_ok()) return std::nullopt;
  if (load_le32(b) != kStampMagic || load_le64(b + kStampSize - 8) != Xxh64::hash(b, kStampSize - 8)) return std::nullopt;
  VerifiedStamp s;
  s.file.dev = load_le64(b + 4);
  s.file.ino = load_le64(b + 12);
  s.file.size = load_le64(b + 20);
  s.file.mtime_ns = static_cast<int64_t>(load_le64(b + 28));
  s.file.ctime_ns = static_cast<int64_t>(load_le64(b + 36));
  s.index_hash = load_le64(b + 44);
  return s;
}

void write_stamp(const std::string& cache_path, const VerifiedStamp& s) {
  uint8_t b[kStampSize];
  b[0] = 0x4b; b[1] = 0x57; b[2] = 0x56; b[3] = 0x31;
  put64(b + 4, s.file.dev);
  put64(b + 12, s.file.ino);
  put64(b + 20, s.file.size);
  put64(b + 28, static_cast<uint64_t>(s.file.mtime_ns));
  put64(b + 36, static_cast<uint64_t>(s.file.ctime_ns));
  put64(b + 44, s.index_hash);
  put64(b + kStampSize - 8, Xxh64::hash(b, kStampSize - 8));
  auto tmp = PrivateTempFile::create(stamp_path(cache_path), "tmp");
  if (!tmp.is_ok()) return;
  if (!write_all_at(tmp.value().fd(), b, sizeof b, 0, tmp.value().path()).is_ok()) return;
  (void)tmp.value().commit();
}

void remove_stamp(const std::string& cache_path) { (void)::unlink(stamp_path(cache_path).c_str()); }

}  // namespace weightkit::xnnpack
