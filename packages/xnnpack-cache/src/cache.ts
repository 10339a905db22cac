/**
 * {@link PackedWeightsCache}: a persistent, file-backed packed-weights cache
 * with XNNPACK provider semantics (the core {@link WeightsCache} contract) and
 * ExecuTorch's lifecycle, on an XPWC file.
 * @module
 */
import {
  BackendOptions, type NamedDataMap, WeightkitError, type WeightsCache, type WeightsCacheKey, type TypedArray, probeFile,
} from '@weightkit/core';
import { NativeHandle, expectNamedDataMap, expectObject, withSignal } from '@weightkit/core/internal';
import { type NativeCache, type NativeKey, type NativeOpenOptions, xnnpackAddon } from './binding.js';
import type { CacheFileInfo, CacheStats, CompactReport, VerifyReport } from './types.js';
import { XNNPACK_OPTIONS } from './options.js';

import { nativeItem, planPack, type PackPlanItem } from './pack-plan.js';
import { entryName } from './entry-name.js';
import { sniffXpwc } from './format.js';

/** Options for {@link PackedWeightsCache.open}. */
export interface PackedWeightsCacheOptions {
  /**
   * The cache file (created 0600 when missing). Omitted: the
   * `xnnpack.packed_cache_path` option; empty: packed weights stay on the heap.
   */
  path?: string;
  /** Backend options to read `xnnpack.packed_cache_path` from (default: the environment). */
  options?: BackendOptions;
  /** finalize() starts write-back of new pages without waiting for it (faster; pages stay dirty until the kernel writes them). */
  asyncFlush?: boolean;
  /** Wait this long for another process writing the same file; 0 (default) falls back to the heap at once. */
  lockWaitMs?: number;
  /**
   * When loaded entries are checksummed: `first-use` (default) the first time
   * this process serves each one, unless the file is byte for byte as
   * weightkit last verified it (then nothing is read); `open` every entry while
   * opening (reads every page); `none` never. An entry that fails is never
   * served: it is dropped and packed again.
   */
  verify?: 'first-use' | 'open' | 'none';
  /**
   * Read the pages of every entry the file holds in while opening (off the JS
   * thread), so the first inference after a warm open takes no page faults on
   * the packed weights (default: `xnnpack.populate`, false: pages come in on
   * first use). The reads move to the open; the pages stay clean, shared page
   * cache.
   */
  populate?: boolean;
}

/** A cache key: the core contract's key plus the packer version and an optional content hash. */
export interface CacheKey extends WeightsCacheKey {
  /** Version of the packing routine named by `fingerprintId`. */
  readonly packerVersion?: number;
  /** Content hash of the unpacked inputs; entries with another hash do not match. */
  readonly inputHash?: bigint;
}

/** Which packing routine {@link PackedWeightsCache.packModel} uses. */
export interface PackOptions {
  /** `f32-gemm` (XNNPACK's blocked f32 layout, default) or `qc8w` (per-channel int8). */
  packer?: 'f32-gemm' | 'qc8w';
  /** Output channels per tile (default 16). */
  nr?: number;
  /** K elements per block (default 1). */
  kr?: number;
  /** K shuffle factor (default 1). */
  sr?: number;
  /** Key entries by a content hash of the unpacked weights too, so changed values re-pack (reads every unpacked byte). */
  hashInputs?: boolean;
  /**
   * Prefix for entry names. Entries are keyed by name (ExecuTorch's rule), so
   * models that share a file and reuse tensor names need distinct namespaces.
   */
  namespace?: string;
  /** Progress: weights looked up or packed so far, of all. */
  onProgress?: (done: number, total: number) => void;
  /** Stops packing between weights; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What {@link PackedWeightsCache.packModel} did. */
export interface PackModelResult {
  /** Weights the model has to pack (rank >= 2, float). */
  entries: number;
  /** Packed now. */
  packed: number;
  /** Found in the cache. */
  hits: number;
  /** Bytes packed now. */
  packedBytes: number;
  /** Rank >= 2 tensors that were not packed (non-float dtype, empty). */
  skipped: string[];
  /** The plan: entry name, weight, bias, matrix shape. */
  items: PackPlanItem[];
}

const BATCH_BYTES = 64 << 20;
const VERIFY = ['first-use', 'open', 'none'] as const;

function u32(value: number | undefined, what: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `key.${what} must be an integer from 0 to 2^32-1, got ${String(value)}`);
  }
  return value;
}

function toNativeKey(key: CacheKey): NativeKey {
  if (typeof key !== 'object' || key === null || typeof key.kernel !== 'string' || (key.bias !== undefined && typeof key.bias !== 'string')) {
    throw new WeightkitError('WK_BAD_ARGUMENT', 'a cache key needs a kernel name (and optionally a bias name) as strings');
  }
  return {
    name: entryName(key.kernel, key.bias),
    seed: u32(key.seed, 'seed'),
    packerId: u32(key.fingerprintId, 'fingerprintId'),
    packerVersion: u32(key.packerVersion, 'packerVersion'),
    ...(key.inputHash !== undefined ? { inputHash: key.inputHash } : {}),
  };
}

/** The packer {@link PackOptions} ask for, with its defaults (XNNPACK's f32 GEMM layout, nr 16, kr 1, sr 1). */
function packerOf(options: PackOptions) {
  return { kind: options.packer ?? 'f32-gemm', nr: options.nr ?? 16, kr: options.kr ?? 1, sr: options.sr ?? 1 } as const;
}

export class PackedWeightsCache implements WeightsCache, Disposable, AsyncDisposable {
  readonly #native: NativeHandle<NativeCache>;
  readonly #openOptions: NativeOpenOptions;

  private constructor(native: NativeCache, openOptions: NativeOpenOptions) {
    this.#native = new NativeHandle(native, 'the packed-weights cache was closed; reopen it');
    this.#openOptions = openOptions;
  }

  /**
   * Opens (or creates) a cache. The first process packs into the file; later
   * processes map it read-only and pack nothing. Opening the same file twice
   * in one process shares one underlying cache.
   */
  static async open(options: PackedWeightsCacheOptions = {}): Promise<PackedWeightsCache> {
    expectObject(options, 'PackedWeightsCache.open(options)');
    // The environment is read once, and only for what the call leaves unsaid.
    let defaults = options.options;
    const option = <T extends string | number | boolean>(key: string): T => (defaults ??= BackendOptions.fromEnv(process.env, {}, ['xnnpack'])).get<T>(key);
    const path = options.path ?? option<string>(XNNPACK_OPTIONS.packedCachePath.key);
    const maxWait = xnnpackAddon().maxLockWaitMs;
    if (options.lockWaitMs !== undefined && (!Number.isInteger(options.lockWaitMs) || options.lockWaitMs < 0 || options.lockWaitMs > maxWait)) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `lockWaitMs must be an integer from 0 to ${maxWait}, got ${String(options.lockWaitMs)}`);
    }
    if (options.verify !== undefined && !VERIFY.includes(options.verify)) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `verify must be one of ${VERIFY.join(', ')}, got '${String(options.verify)}'`);
    }
    if (options.populate !== undefined && typeof options.populate !== 'boolean') {
      throw new WeightkitError('WK_BAD_ARGUMENT', `populate must be true or false, got ${String(options.populate)}`);
    }
    const populate = options.populate ?? option<boolean>(XNNPACK_OPTIONS.populate.key);
    const o: NativeOpenOptions = {
      path, asyncFlush: options.asyncFlush ?? false, lockWaitMs: options.lockWaitMs ?? 0, verify: options.verify ?? 'first-use', populate,
    };
    const cache = new PackedWeightsCache(await xnnpackAddon().open(o), o);
    const rebuilt = cache.stats().rebuiltFrom;
    if (rebuilt) process.emitWarning(`the damaged cache '${path}' was moved aside to '${rebuilt}' and a new one started`, { code: 'WEIGHTKIT_CACHE_REBUILT' });
    return cache;
  }

  #live(): NativeCache {
    return this.#native.live;
  }

  /** The cache file ('' for a heap-only cache). */
  get path(): string {
    return this.#openOptions.path;
  }

  // ---- the WeightsCache contract (XNNPACK provider semantics) ----

  lookUp(key: CacheKey): number | undefined {
    return this.#live().lookUp(toNativeKey(key));
  }

  reserveSpace(size: number): Uint8Array | undefined {
    return this.#live().reserve(size);
  }

  lookUpOrInsert(key: CacheKey, data: Uint8Array | undefined): number | undefined {
    return this.#live().insert(toNativeKey(key), data);
  }

  isFinalized(): boolean {
    return this.#live().isFinalized();
  }

  offsetToAddr(offset: number): Uint8Array {
    return this.#live().offsetToAddr(offset);
  }

  /**
   * finalize_for_runtime: flushes new file pages, bumps ref counts, returns the
   * names used since {@link PackedWeightsCache.initialize}, and (as ExecuTorch's
   * finalize does) writes the trailer, so the file ends in a footer again.
   */
  finalize(): string[] {
    return this.#live().finalize();
  }

  /** delete_packed_data: drops references; heap entries are freed at zero, file-backed ones persist. */
  release(names: readonly string[]): void {
    this.#live().release(names);
  }

  // ---- the ExecuTorch lifecycle and whole-model packing ----

  /** initialize_for_runtime: starts recording the names a runtime uses. */
  initialize(): void {
    this.#live().initialize();
  }

  /**
   * Looks up every weight of rank >= 2 of `map` (with its bias) and packs the
   * misses, off the JS thread, then saves: the file ends in a trailer again.
   * Weights stored unencoded in a file are read by the packer straight from
   * the file (refused when the file changed since `map` opened it); others
   * are decoded first.
   */
  async packModel(map: NamedDataMap, options: PackOptions = {}): Promise<PackModelResult> {
    const native = this.#live();
    expectNamedDataMap(map, 'packModel(map)');
    expectObject(options, 'packModel(map, options)');
    const packer = packerOf(options);
    const { items, skipped } = planPack(map, options.namespace);
    const result: PackModelResult = { entries: items.length, packed: 0, hits: 0, packedBytes: 0, skipped, items };
    // Without content hashes a hit needs no source bytes: find the hits first,
    // so a warm start never reads or decodes the unpacked weights.
    const hashInputs = options.hashInputs ?? false;
    const found = hashInputs ? items.map(() => false) : native.probe(items, packer);
    const misses = items.filter((_, i) => !found[i]);
    result.hits = items.length - misses.length;
    let batch: PackPlanItem[] = [];
    let batchBytes = 0;
    let done = result.hits;
    const run = (flag: Int32Array | undefined) => async () => {
      if (batch.length === 0) return;
      const r = await native.pack(batch.map((i) => nativeItem(map, i)), packer, hashInputs, flag);
      result.packed += r.packed;
      result.hits += r.hits;
      result.packedBytes += r.packedBytes;
      done += batch.length;
      options.onProgress?.(done, items.length);
      batch = [];
      batchBytes = 0;
    };
    await withSignal(options.signal, async (flag) => {
      const flush = run(flag);
      for (const item of misses) {
        batch.push(item);
        batchBytes += map.info(item.weight).byteLength;
        if (batchBytes >= BATCH_BYTES) await flush();
      }
      await flush();
    });
    if (result.packed > 0) await native.save();
    return result;
  }

  /** A zero-copy view of a packed entry by name, valid until {@link PackedWeightsCache.close}. */
  view(name: string): Uint8Array | undefined {
    return this.#live().view(name);
  }

  /** Packs (or finds) one weight with an optional bias and returns its packed bytes. */
  async getOrPack(map: NamedDataMap, weight: string, options: PackOptions & { bias?: string } = {}): Promise<Uint8Array> {
    const plan = planPack(map, options.namespace).items.find((i) => i.weight === weight && (options.bias === undefined || i.bias === options.bias));
    if (!plan) throw new WeightkitError('WK_NOT_FOUND', `'${weight}' is not a packable weight of '${map.path}' (rank >= 2, float)`);
    const packer = packerOf(options);
    await this.#live().pack([nativeItem(map, plan)], packer, options.hashInputs ?? false);
    return this.view(plan.name)!;
  }

  /** Names of every entry, sorted. */
  names(): string[] {
    return this.#live().names();
  }

  /** Writes the trailer that lets the next process reuse the packs; false when there was nothing new (the file is untouched). */
  save(): Promise<boolean> {
    return this.#live().save();
  }

  /** Recomputes every entry's checksum. */
  verify(): Promise<VerifyReport> {
    return this.#live().verify();
  }

  stats(): CacheStats {
    return this.#live().stats();
  }

  /**
   * Rewrites the file without orphans (dead trailers, superseded packs). Needs
   * every other user of the file, in any process, to have closed it
   * (WK_LOCKED otherwise). This handle's views are detached; the cache is
   * reopened on the compacted file.
   */
  async compact(): Promise<CompactReport> {
    if (!this.#openOptions.path) throw new WeightkitError('WK_BAD_ARGUMENT', 'a heap-only cache has no file to compact');
    this.#live();
    await this.close();
    try {
      return await PackedWeightsCache.compactFile(this.#openOptions.path);
    } finally {
      this.#native.reopen(await xnnpackAddon().open(this.#openOptions));
    }
  }

  /**
   * Releases this handle: its views are detached at once; the cache itself
   * (saving what is unsaved, so no tail is left behind) is released off the JS
   * thread, and the promise resolves when that is done. Idempotent.
   */
  close(): Promise<void> {
    return this.#native.close();
  }

  /** `using cache = await PackedWeightsCache.open(...)`: closes without waiting for the final save. */
  [Symbol.dispose](): void {
    void this.close();
  }

  /** `await using cache = ...`: closes and waits for the final save. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get closed(): boolean {
    return this.#native.closed;
  }

  // ---- whole-file operations (no open cache needed) ----

  /**
   * True when `path` ends with an XPWC footer (the magic in the last 20
   * bytes), the cheap test a tool uses before {@link inspectFile}; a file
   * that passes may still be refused by it.
   */
  static looksLikeCache(path: string): boolean {
    return sniffXpwc(probeFile(path)) > 0;
  }

  /** The index of a cache file, read-only; reads files written by ExecuTorch too. */
  static inspectFile(path: string): Promise<CacheFileInfo> {
    return xnnpackAddon().inspectFile(path);
  }

  /** Recomputes every entry's checksum in a file, read-only. */
  static verifyFile(path: string): Promise<VerifyReport> {
    return xnnpackAddon().verifyFile(path);
  }

  /** Compacts a file nobody has open (temp file + rename). */
  static compactFile(path: string): Promise<CompactReport> {
    return xnnpackAddon().compactFile(path);
  }
}

/** Typed-array bytes, for callers that pack their own buffers. */
export function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
