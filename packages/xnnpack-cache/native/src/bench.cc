#include "weightkit/xnnpack/bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include <unistd.h>

#include "weightkit/mapped_file.hpp"

namespace weightkit::xnnpack {
namespace {

double now_ns() {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

Result<PackerTiming> time_packer(const Packer& p, size_t nc, size_t kc, int reps) {
  auto size = p.packed_size(nc, kc);
  if (!size.is_ok()) return size.status();
  std::vector<float> src(nc * kc);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  std::vector<float> bias(nc, 0.5f);
  // Destinations touched beforehand: both sides measure copying, not page faults.
  std::vector<uint8_t> packed(size.value(), 1), copy(src.size() * sizeof(float), 1);
  std::vector<double> pack_ns, copy_ns;
  for (int r = 0; r < std::max(reps, 1); ++r) {
    double t0 = now_ns();
    pack(p, nc, kc, src.data(), bias.data(), packed.data(), SourceLayout::kOutIn);
    double t1 = now_ns();
    std::memcpy(copy.data(), src.data(), copy.size());
    double t2 = now_ns();
    pack_ns.push_back(t1 - t0);
    copy_ns.push_back(t2 - t1);
  }
  volatile uint8_t sink = packed[packed.size() / 2] ^ copy[copy.size() / 2];
  (void)sink;
  return PackerTiming{median(pack_ns), median(copy_ns), copy.size(), packed.size()};
}

Result<double> time_file_backing(const std::string& path, uint64_t total, uint64_t region, Backing how) {
  ::unlink(path.c_str());
  auto fd = open_regular_file(path, OpenMode::kReadWriteCreate);
  if (!fd.is_ok()) return fd.status();
  const int f = fd.value().get();
  std::vector<uint8_t> src(static_cast<size_t>(region), 0x5a);
  std::vector<MappedRegion> regions;
  const double t0 = now_ns();
  for (uint64_t off = 0; off < total; off += region) {
    if (how == Backing::kSparseMapped) {
      if (::ftruncate(f, static_cast<off_t>(off + region)) != 0) return errno_status(errno, "ftruncate", path);
    } else {
      int err = ::posix_fallocate(f, static_cast<off_t>(off), static_cast<off_t>(region));
      if (err != 0) return errno_status(err, "posix_fallocate", path);
    }
    if (how == Backing::kFallocateWrite) {
      for (size_t done = 0; done < src.size();) {
        ssize_t w = ::pwrite(f, src.data() + done, src.size() - done, static_cast<off_t>(off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return errno_status(w < 0 ? errno : EIO, "pwrite", path);
        done += static_cast<size_t>(w);
      }
      continue;
    }
    auto r = MappedRegion::map(f, path, off, region, Access::kSharedWritable);
    if (!r.is_ok()) return r.status();
    std::memcpy(r.value().data(), src.data(), src.size());
    regions.push_back(std::move(r).value());
  }
  for (auto& r : regions) {
    Status st = r.sync(0, r.size(), path);
    if (!st.is_ok()) return st;
  }
  if (::fdatasync(f) != 0) return errno_status(errno, "fdatasync", path);
  const double ms = (now_ns() - t0) / 1e6;
  regions.clear();
  ::unlink(path.c_str());
  return ms;
}

}  // namespace weightkit::xnnpack
