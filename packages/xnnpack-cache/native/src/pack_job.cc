#include "weightkit/xnnpack/pack_job.hpp"

#include <cstring>

#include "weightkit/mapped_file.hpp"
#include "weightkit/xxhash64.hpp"

namespace weightkit::xnnpack {
namespace {

size_t item_bytes(SourceDtype d) { return d == SourceDtype::kF32 ? 4 : 2; }

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// The source's bytes, mapped or owned, for as long as the struct lives.
struct Loaded {
  std::shared_ptr<MappedFile> file;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

Result<Loaded> load(const TensorSource& s) {
  Loaded l;
  if (!s.from_file()) {
    l.data = s.bytes.data();
    l.size = s.bytes.size();
    return l;
  }
  MappedFile::Options o;
  o.offset = s.offset;
  o.length = s.length;
  o.populate = true;  // read in full right away
  auto f = MappedFile::open_read(s.path, o);
  if (!f.is_ok()) return f.status();
  if (s.identity && f.value()->identity() != *s.identity) {
    return Status(Code::kBadArgument, "'" + s.path + "' changed since the model was opened (replaced or rewritten); reopen the model and pack again");
  }
  l.file = f.value();
  l.data = l.file->data();
  l.size = l.file->size();
  return l;
}

/// f32 view of a source: the bytes themselves when already f32 and aligned, else converted.
const float* as_f32(const Loaded& l, SourceDtype d, size_t count, std::vector<float>& scratch) {
  if (d == SourceDtype::kF32 && reinterpret_cast<uintptr_t>(l.data) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(l.data);
  }
  scratch.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (d == SourceDtype::kF32) {
      std::memcpy(&scratch[i], l.data + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, l.data + 2 * i, 2);
      if (d == SourceDtype::kF16) {
        scratch[i] = half_to_float(h);
      } else {
        uint32_t bits = static_cast<uint32_t>(h) << 16;
        std::memcpy(&scratch[i], &bits, 4);
      }
    }
  }
  return scratch.data();
}

}  // namespace

EntryKey item_key(const Packer& packer, const std::string& name, size_t nc, size_t kc) {
  EntryKey key;
  key.name = name;
  key.seed = packer.seed(nc, kc);
  key.packer_id = packer.id();
  key.packer_version = packer.version();
  return key;
}

Result<PackResult> run_pack_job(PackedWeightsCache& cache, const Packer& packer, const std::vector<PackItem>& items, bool hash_inputs,
                                const std::function<bool()>& cancelled) {
  PackResult result;
  std::vector<float> wscratch, bscratch;
  for (const PackItem& item : items) {
    if (cancelled && cancelled()) return Status(Code::kBadArgument, "packing was aborted");
    auto size = packer.packed_size(item.nc, item.kc);
    if (!size.is_ok()) return Status(size.status().code(), "'" + item.name + "': " + size.status().message());
    auto w = load(item.weight);
    if (!w.is_ok()) return w.status();
    if (w.value().size != item.nc * item.kc * item_bytes(item.weight.dtype)) {
      return Status(Code::kBadArgument, "'" + item.name + "': weight has " + std::to_string(w.value().size) + " bytes, not [" +
                                            std::to_string(item.nc) + ", " + std::to_string(item.kc) + "]");
    }
    std::optional<Loaded> b;
    if (item.bias) {
      auto lb = load(*item.bias);
      if (!lb.is_ok()) return lb.status();
      if (lb.value().size != item.nc * item_bytes(item.bias->dtype)) {
        return Status(Code::kBadArgument, "'" + item.name + "': bias length does not match " + std::to_string(item.nc) + " output channels");
      }
      b = std::move(lb).value();
    }
    EntryKey key = item_key(packer, item.name, item.nc, item.kc);
    if (hash_inputs) {
      Xxh64 h;
      h.update(w.value().data, w.value().size);
      if (b) h.update(b->data, b->size);
      key.input_hash = h.digest() | 1;  // never 0, which means "not recorded"
    }
    if (cache.look_up(key)) {
      result.hits++;
      continue;
    }
    void* mem = cache.reserve_space_for_overwrite(size.value());  // the packers write padding too
    if (!mem) return Status(Code::kBudget, "out of memory reserving " + std::to_string(size.value()) + " bytes for '" + item.name + "'");
    const float* wf = as_f32(w.value(), item.weight.dtype, item.nc * item.kc, wscratch);
    const float* bf = b ? as_f32(*b, item.bias->dtype, item.nc, bscratch) : nullptr;
    pack(packer, item.nc, item.kc, wf, bf, mem, item.layout);
    auto v = cache.look_up_or_insert(key, mem, size.value());
    if (!v.is_ok()) return v.status();
    result.packed++;
    result.packed_bytes += size.value();
  }
  return result;
}

}  // namespace weightkit::xnnpack
