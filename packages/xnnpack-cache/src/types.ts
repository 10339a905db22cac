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
  /** Reservations handed to packers (0 in a process that found everything). */
  reserves: number;
  /** Entries now. */
  entries: number;
  /** Entries loaded from the file at open. */
  loadedEntries: number;
  /** Bytes of entries in file pages. */
  mappedBytes: number;
  /** Bytes of entries on the heap. */
  heapBytes: number;
  /**
   * Bytes packed on the heap although a file was configured, by reason: the
   * disk is full; another process (or an ExecuTorch writer) holds the file; a
   * write failed; the file is of a version or size weightkit does not write;
   * the file is damaged and in use; the file or its folder is read-only.
   */
  heapFallbackBytes: { noSpace: number; locked: number; ioError: number; unsupported: number; invalidFile: number; readOnly: number };
  /** Time spent flushing new pages in finalize. */
  flushMs: number;
  flushedBytes: number;
  fileBytes: number;
  /** Bytes compaction would reclaim (about). */
  orphanBytes: number;
  saves: number;
  /** Saves that failed (a full disk): the entries stay usable and close() tries again. */
  saveErrors: number;
  /** Bytes of loaded entries checksummed by this process (first use, or `verify: 'open'`). */
  verifiedBytes: number;
  /** File bytes read in while opening (`populate`). */
  populatedBytes: number;
  /** Loaded entries whose checksum did not match: never served, packed again. */
  corruptEntries: number;
  /** Unsaved regions a killed writer left that this process kept when it repaired the file. */
  repairedEntries: number;
  /** Bytes of such regions that no record vouched for (left as orphans). */
  repairDroppedBytes: number;
  fileBacked: boolean;
  /** True when this process holds the writer lock. */
  writer: boolean;
  /** True when the file did not end with a valid trailer and an earlier one was used. */
  recovered: boolean;
  /** True when the file was, byte for byte, as weightkit last verified it: no entry needs a checksum. */
  trusted: boolean;
  /** True when the file (or its folder) is read-only: hits are served, new packs stay on the heap. */
  readOnly: boolean;
  /** Where a damaged file was moved aside, if it was. */
  rebuiltFrom: string | null;
  /** Why the file is not used (kept on the heap instead), when it is not. */
  refused: string | null;
  lastSaveError: string | null;
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
  /** Bytes after the last trailer (unsaved regions a killed writer left); 0 when the footer is at EOF. */
  tailBytes: number;
  /** True when the trailer used is not the one at the end of the file. */
  recovered: boolean;
  /** True when the last 20 bytes are a footer ExecuTorch's loader accepts (it reads nothing else). */
  footerAtEof: boolean;
  /** True when the file carries weightkit's integrity record. */
  integrity: boolean;
  entries: { name: string; offset: number; size: number; seed: number }[];
}

/** What compaction did. */
export interface CompactReport {
  bytesBefore: number;
  bytesAfter: number;
  entries: number;
  /** Damaged entries left out; they are packed again on next use. */
  dropped: string[];
}
