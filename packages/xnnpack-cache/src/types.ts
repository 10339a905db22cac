/**
 * The data shapes the cache reports (the CLI's JSON uses the same names).
 * @module
 */

/** Counters of one cache. */
export interface CacheStats {
  /** Lookups that found an entry. */
  hits: number;
  /** Lookups that found nothing. */
  misses: number;
  /** Entries committed by this process. */
  packs: number;
  /** Entries replaced by a new pack of the same name (their bytes became orphans). */
  superseded: number;
  /** Entries now. */
  entries: number;
  /** Entries loaded from the file at open. */
  loadedEntries: number;
  /** Bytes of entries in file pages. */
  mappedBytes: number;
  /** Bytes of entries on the heap. */
  heapBytes: number;
  /** Bytes packed on the heap instead of the file, by reason. */
  heapFallbackBytes: { noSpace: number; locked: number; ioError: number; unsupported: number; invalidFile: number };
  /** Time spent flushing new pages in finalize. */
  flushMs: number;
  flushedBytes: number;
  fileBytes: number;
  /** Bytes compaction would reclaim. */
  orphanBytes: number;
  saves: number;
  fileBacked: boolean;
  /** True when this process holds the writer lock. */
  writer: boolean;
  /** True when the file did not end with a valid trailer and an earlier one was used. */
  recovered: boolean;
  /** Where an invalid file was moved aside, if it was. */
  rebuiltFrom: string | null;
}

/** What verify reports. */
export interface VerifyReport {
  /** Entries whose checksum was recomputed. */
  checked: number;
  /** Entries without a stored checksum (written by ExecuTorch). */
  unchecked: number;
  /** Entries whose bytes no longer match their checksum. */
  bad: string[];
}

/** The index of a cache file. */
export interface CacheFileInfo {
  version: number;
  fileBytes: number;
  orphanBytes: number;
  /** True when the trailer used is not the one at the end of the file. */
  recovered: boolean;
  /** True when the file carries weightkit's integrity record. */
  integrity: boolean;
  entries: { name: string; offset: number; size: number; seed: number }[];
}

/** What compaction did. */
export interface CompactReport {
  bytesBefore: number;
  bytesAfter: number;
  entries: number;
}
