// Tests of the shared mapping layer on real files in a temporary directory.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "weightkit/mapped_file.hpp"
#include "weightkit/testing.hpp"

using namespace weightkit;

namespace {

std::string write_file(const std::string& name, const std::string& bytes) {
  std::string path = testing::temp_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

}  // namespace

TEST_CASE("maps a whole file and an unaligned range of it") {
  std::string data(3 * page_size() + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  auto path = write_file("whole.bin", data);
  auto whole = MappedFile::open_read(path, {});
  CHECK(whole.is_ok());
  CHECK_EQ(whole.value()->size(), data.size());
  CHECK(std::memcmp(whole.value()->data(), data.data(), data.size()) == 0);

  MappedFile::Options o;
  o.offset = page_size() + 5;
  o.length = 100;
  auto part = MappedFile::open_read(path, o);
  CHECK(part.is_ok());
  CHECK_EQ(part.value()->size(), size_t{100});
  CHECK(std::memcmp(part.value()->data(), data.data() + o.offset, 100) == 0);
}

TEST_CASE("a range past the end is refused before mapping") {
  auto path = write_file("short.bin", std::string(10, 'x'));
  MappedFile::Options o;
  o.offset = 4;
  o.length = 7;
  auto r = MappedFile::open_read(path, o);
  CHECK(!r.is_ok());
  CHECK(r.status().code() == Code::kBadFormat);
  o.offset = UINT64_MAX - 2;
  o.length = 5;
  CHECK(MappedFile::open_read(path, o).status().code() == Code::kBadFormat);
}

TEST_CASE("symlinks, directories and missing files get coded errors") {
  auto target = write_file("target.bin", "abc");
  auto link = testing::temp_dir() + "/link.bin";
  ::unlink(link.c_str());
  CHECK(::symlink(target.c_str(), link.c_str()) == 0);
  CHECK(MappedFile::open_read(link, {}).status().code() == Code::kBadArgument);
  CHECK(MappedFile::open_read(testing::temp_dir(), {}).status().code() == Code::kBadArgument);
  CHECK(MappedFile::open_read(testing::temp_dir() + "/missing", {}).status().code() == Code::kNotFound);
}

TEST_CASE("an empty file maps to an empty region") {
  auto path = write_file("empty.bin", "");
  auto r = MappedFile::open_read(path, {});
  CHECK(r.is_ok());
  CHECK_EQ(r.value()->size(), size_t{0});
}

TEST_CASE("created files are 0600") {
  auto path = testing::temp_dir() + "/created.bin";
  ::unlink(path.c_str());
  auto fd = open_regular_file(path, OpenMode::kReadWriteCreate);
  CHECK(fd.is_ok());
  struct stat st;
  CHECK(::stat(path.c_str(), &st) == 0);
  CHECK_EQ(st.st_mode & 0777, static_cast<mode_t>(0600));
}

TEST_CASE("a shared writable region writes through to the file") {
  auto path = write_file("rw.bin", std::string(page_size() * 2, 'a'));
  auto fd = open_regular_file(path, OpenMode::kReadWrite);
  CHECK(fd.is_ok());
  auto region = MappedRegion::map(fd.value().get(), path, 3, 10, Access::kSharedWritable);
  CHECK(region.is_ok());
  std::memcpy(region.value().data(), "0123456789", 10);
  CHECK(region.value().sync(0, 10, path).is_ok());
  auto ro = MappedFile::open_read(path, {});
  CHECK(std::memcmp(ro.value()->data() + 3, "0123456789", 10) == 0);
}

WEIGHTKIT_TEST_MAIN()

TEST_CASE("prefault_for_write faults fresh anonymous memory in without changing it, and is refused harmlessly") {
  const size_t len = size_t{6} << 20;
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  if (p == MAP_FAILED) return;
  static_cast<uint8_t*>(p)[12345] = 7;
  const weightkit::platform::Prefault done = weightkit::platform::prefault_for_write(static_cast<uint8_t*>(p) + 1, len - 1);
  CHECK(done.populated);  // Linux 5.14 and newer (this machine's kernel)
  CHECK_EQ(static_cast<uint8_t*>(p)[12345], 7);
  CHECK_EQ(static_cast<uint8_t*>(p)[len - 1], 0);
  // Read-only memory cannot be faulted in for writing: reported, nothing crashes.
  CHECK_EQ(::mprotect(p, len, PROT_READ), 0);
  CHECK(!weightkit::platform::prefault_for_write(p, len).populated);
  CHECK_EQ(static_cast<uint8_t*>(p)[12345], 7);
  ::munmap(p, len);
}
