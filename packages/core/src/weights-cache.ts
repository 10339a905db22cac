/**
 * {@link WeightsCache}: the packed-weights cache contract, mirroring XNNPACK's
 * `xnn_weights_cache_provider` so a cache written for XNNPACK and one used from
 * JavaScript behave the same. @weightkit/xnnpack-cache implements it.
 *
 * The protocol an operator follows (XNNPACK's, see docs/formats/xpwc.md):
 * 1. `lookUp(key)`; a hit returns the entry's offset (an opaque number) — done.
 * 2. On a miss, `reserveSpace(n)` returns writable memory for n bytes; the
 *    packer writes into it.
 * 3. `lookUpOrInsert(key, reserved)` commits it and returns its offset (or
 *    the offset of an equal entry another caller committed first).
 * 4. After `finalize()`, `offsetToAddr(offset)` turns offsets into views.
 *
 * @module
 */

/**
 * Identifies one packed weight. XNNPACK keys by pointers to the unpacked
 * weights; weightkit keys by the names those pointers were loaded under.
 */
export interface WeightsCacheKey {
  /** Packing seed of the micro-kernel (shape and tile parameters). */
  readonly seed: number;
  /** Name of the unpacked kernel (weights) tensor. */
  readonly kernel: string;
  /** Name of the unpacked bias tensor, when there is one. */
  readonly bias?: string;
  /** Identifies the packing routine and its version; entries from another packer never match. */
  readonly fingerprintId?: number;
}

/** The packed-weights cache protocol. All methods are safe to call from several callers. */
export interface WeightsCache {
  /** Offset of the packed entry for `key`, or `undefined` on a miss. */
  lookUp(key: WeightsCacheKey): number | undefined;
  /**
   * Writable memory for `size` packed bytes, or `undefined` when none can be
   * had (the caller then packs into its own memory and still inserts it).
   * Valid until the matching {@link WeightsCache.lookUpOrInsert}: afterwards
   * the entry is reached through its offset, and writes into this memory no
   * longer reach the cache (a file-backed cache stages it and writes it to
   * the file at insert).
   */
  reserveSpace(size: number): Uint8Array | undefined;
  /**
   * Commits packed bytes under `key` and returns their offset. `data` is the
   * memory returned by {@link WeightsCache.reserveSpace} or any buffer (then
   * copied). With `data === undefined` it behaves as {@link WeightsCache.lookUp}.
   * Never returns an invalid offset for a valid insert.
   */
  lookUpOrInsert(key: WeightsCacheKey, data: Uint8Array | undefined): number | undefined;
  /** True after {@link WeightsCache.finalize} until more entries are inserted. */
  isFinalized(): boolean;
  /** A view of the packed bytes at `offset`; only valid after finalize. */
  offsetToAddr(offset: number): Uint8Array;
  /** Makes every committed entry durable and addressable; returns the names used by this caller. */
  finalize(): string[];
  /** Drops the caller's references to `names`; heap entries are freed at zero, file-backed ones persist. */
  release(names: readonly string[]): void;
}
