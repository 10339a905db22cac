// The "verified" stamp: `<cache>.verified`, written by the process that last
// checked (or wrote) every entry of a cache file, naming the file's exact
// state: device, inode, size, modification and change times, and the hash of
// its index. While the file is in that state, readers trust its entries
// without checksumming them again; any write by any program changes the
// change time, and the next reader checks every entry on first use.
// It guards against files changed behind weightkit's back (partial writes,
// edits, copies), not against bit rot that no write caused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "weightkit/mapped_file.hpp"

namespace weightkit::xnnpack {

struct VerifiedStamp {
  FileIdentity file;
  uint64_t index_hash = 0;
};

std::string stamp_path(const std::string& cache_path);
/// The stamp beside `cache_path`; nullopt when there is none or it is not one.
std::optional<VerifiedStamp> read_stamp(const std::string& cache_path);
/// Writes the stamp through a private temporary file and a rename; best
/// effort (a read-only folder simply has no stamp).
void write_stamp(const std::string& cache_path, const VerifiedStamp& stamp);
/// Removes the stamp (after a change that the writer cannot vouch for).
void remove_stamp(const std::string& cache_path);

}  // namespace weightkit::xnnpack
