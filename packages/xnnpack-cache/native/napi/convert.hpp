// Conversions between JavaScript values and the cache core's types. Every
// reader checks types and ranges (WK_BAD_ARGUMENT naming the field); every
// writer builds a plain object whose field names are public interface.
#pragma once

#include <napi.h>

#include <vector>

#include "weightkit/xnnpack/cache.hpp"
#include "weightkit/xnnpack/pack_job.hpp"
#include "weightkit/xnnpack/packers.hpp"

namespace weightkit::xnnpack::js {

CacheOptions cache_options(Napi::Env env, Napi::Value v);
EntryKey entry_key(Napi::Env env, Napi::Value v);
Packer packer(Napi::Env env, Napi::Value v);
/// [{name, nc, kc}] for probe, or full pack items ({..., layout, weight, bias?}).
std::vector<PackItem> pack_items(Napi::Env env, Napi::Value v, bool with_sources);

Napi::Object to_js(Napi::Env env, const Stats& s);
Napi::Object to_js(Napi::Env env, const VerifyReport& r);
Napi::Object to_js(Napi::Env env, const FileInfo& info);
Napi::Object to_js(Napi::Env env, const CompactReport& r);
Napi::Object to_js(Napi::Env env, const PackResult& r);

}  // namespace weightkit::xnnpack::js
