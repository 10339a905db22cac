// xnnpack_bench: native measurements the packed-weights cache benchmark
// (tools/src/bench) needs, as a program the benchmark runs, so no benchmark
// code ships in the library or the addon. Prints one JSON object.
//   xnnpack_bench packer <f32-gemm|qc8w> <nc> <kc> <reps> <nr>
//   xnnpack_bench backing <path> <total-bytes> <region-bytes> <sparse-mmap|fallocate-mmap|fallocate-pwrite>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "weightkit/xnnpack/packers.hpp"
#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include <unistd.h>

#include "weightkit/mapped_file.hpp"

namespace weightkit::xnnpack {

struct PackerTiming {
  double pack_ns = 0;    // median over reps: pack an [nc, kc] f32 weight
  double memcpy_ns = 0;  // median over reps: memcpy of the same source bytes
  uint64_t source_bytes = 0, packed_bytes = 0;
};

/// How a file range gets its bytes, region by region.
enum class Backing {
  kSparseMapped,     // ftruncate, memcpy into a MAP_SHARED mapping (ExecuTorch's way)
  kFallocateMapped,  // posix_fallocate first, then the same
  kFallocateWrite,   // posix_fallocate first, then pwrite from a reused buffer (weightkit's way)
};

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
      Status st = write_all_at(f, src.data(), src.size(), off, path);
      if (!st.is_ok()) return st;
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

int main(int argc, char** argv) {
  using namespace weightkit::xnnpack;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "packer" && argc == 7) {
    auto p = packer_from_name(argv[2], static_cast<uint32_t>(std::atoi(argv[6])), 1, 1);
    if (!p.is_ok()) return std::fprintf(stderr, "%s\n", p.status().message().c_str()), 1;
    auto t = time_packer(p.value(), std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10), std::atoi(argv[5]));
    if (!t.is_ok()) return std::fprintf(stderr, "%s\n", t.status().message().c_str()), 1;
    std::printf("{\"packNs\":%.1f,\"memcpyNs\":%.1f,\"sourceBytes\":%llu,\"packedBytes\":%llu}\n", t.value().pack_ns, t.value().memcpy_ns,
                static_cast<unsigned long long>(t.value().source_bytes), static_cast<unsigned long long>(t.value().packed_bytes));
    return 0;
  }
  if (mode == "backing" && argc == 6) {
    const std::string how = argv[5];
    const Backing b = how == "sparse-mmap" ? Backing::kSparseMapped : how == "fallocate-mmap" ? Backing::kFallocateMapped : Backing::kFallocateWrite;
    auto ms = time_file_backing(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10), b);
    if (!ms.is_ok()) return std::fprintf(stderr, "%s\n", ms.status().message().c_str()), 1;
    std::printf("{\"ms\":%.3f}\n", ms.value());
    return 0;
  }
  std::fprintf(stderr, "usage: xnnpack_bench packer <kind> <nc> <kc> <reps> <nr> | backing <path> <total> <region> <how>\n");
  return 2;
}
