// The loader half of a packed-weights cache: what the file is to this process
// (its FileRole: heap-only, refused, read-only, reader, writer), loading a
// trailer's entries, rebuilding a damaged cache, adopting what other writers
// saved, and repairing a tail a dead writer left. Saving is the writer's.
#pragma once

#include "cache_state.hpp"
#include "weightkit/xnnpack/xpwc.hpp"

namespace weightkit::xnnpack {

class CacheWriter;

class CacheLoader {
 public:
  CacheLoader(CacheState& s, CacheWriter& writer) : s_(s), writer_(writer) {}

  /// Opens the file, takes its role and loads what it holds.
  Status open_file();

  Status load();
  /// A damaged cache nobody else has open goes aside; a fresh one takes its place.
  Status rebuild(const Status& why);
  void apply_verify_policy(const xpwc::Trailer& t);
  /// Adds the entries of `t` this instance does not have yet, mapped read-only.
  Status adopt_trailer(const xpwc::Trailer& t);
  /// Keeps the unsaved regions after the last trailer whose records vouch for
  /// them and writes a trailer at EOF covering everything. Writer only.
  Status repair();
  /// Takes the writer lock on first use; then adopts what other writers saved
  /// since this process read the file, and repairs a tail a dead one left.
  bool ensure_writer();

 private:
  CacheState& s_;
  CacheWriter& writer_;
};

}  // namespace weightkit::xnnpack
