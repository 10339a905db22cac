/**
 * {@link PackedWeightsCache}: a persistent, file-backed packed-weights cache
 * with XNNPACK provider semantics (the core {@link WeightsCache} contract) and
 * ExecuTorch's lifecycle, on an XPWC file.
 * @module
 */
import {
  BackendOptions, type NamedDataMap, WeightkitError, type WeightsCache, type WeightsCacheKey, type TypedArray,
} from '@weightkit/core';
import { type NativeCache, type NativeKey, xnnpackAddon } from './binding.js';
import type { CacheFileInfo, CacheStats, CompactReport, VerifyReport } from './types.js';
import { XNNPACK_OPTIONS } from './options.js';
import { nativeItem, planPack, type PackPlanItem } from './pack-plan.js';

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
  /** Checksum every loaded entry at open and drop any that do not match (reads every page). */
  verifyOnOpen?: boolean;
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

interface OpenOptions {
  path: string;
  asyncFlush: boolean;
  lockWaitMs: number;
  verifyOnOpen: boolean;
}

function toNativeKey(key: CacheKey): NativeKey {
  return {
    name: key.kernel + (key.bias ?? ''),
    seed: key.seed >>> 0,
    packerId: key.fingerprintId ?? 0,
    packerVersion: key.packerVersion ?? 0,
    ...(key.inputHash !== undefined ? { inputHash: key.inputHash } : {}),
  };
}

export class PackedWeightsCache implements WeightsCache {
  #native: NativeCache | undefined;
  readonly #openOptions: OpenOptions;

  private constructor(native: NativeCache, openOptions: OpenOptions) {
    this.#native = native;
    this.#openOptions = openOptions;
  }

  /**
   * Opens (or creates) a cache. The first process packs into the file; later
   * processes map it read-only and pack nothing. Opening the same file twice
   * in one process shares one underlying cache.
   */
  static async open(options: PackedWeightsCacheOptions = {}): Promise<PackedWeightsCache> {
    const path = options.path ?? (options.options ?? BackendOptions.fromEnv()).get<string>(XNNPACK_OPTIONS.packedCachePath.key);
    if (options.lockWaitMs !== undefined && (!Number.isInteger(options.lockWaitMs) || options.lockWaitMs < 0)) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `lockWaitMs must be a non-negative integer, got ${options.lockWaitMs}`);
    }
    const o = { path, asyncFlush: options.asyncFlush ?? false, lockWaitMs: options.lockWaitMs ?? 0, verifyOnOpen: options.verifyOnOpen ?? false };
    return new PackedWeightsCache(await xnnpackAddon().open(o), o);
  }

  #live(): NativeCache {
    if (!this.#native) throw new WeightkitError('WK_CLOSED', 'the packed-weights cache was closed; reopen it');
    return this.#native;
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

  /** finalize_for_runtime: flushes new file pages, bumps ref counts, returns the names used since {@link PackedWeightsCache.initialize}. */
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
   * misses, off the JS thread. Weights stored unencoded in a file are read by
   * the packer straight from the file; others are decoded first.
   */
  async packModel(map: NamedDataMap, options: PackOptions = {}): Promise<PackModelResult> {
    const native = this.#live();
    const packer = { kind: options.packer ?? 'f32-gemm', nr: options.nr ?? 16, kr: options.kr ?? 1, sr: options.sr ?? 1 } as const;
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
    const run = async () => {
      if (batch.length === 0) return;
      const r = await native.pack(batch.map((i) => nativeItem(map, i)), packer, hashInputs);
      result.packed += r.packed;
      result.hits += r.hits;
      result.packedBytes += r.packedBytes;
      done += batch.length;
      options.onProgress?.(done, items.length);
      batch = [];
      batchBytes = 0;
    };
    for (const item of misses) {
      batch.push(item);
      batchBytes += map.info(item.weight).byteLength;
      if (batchBytes >= BATCH_BYTES) await run();
    }
    await run();
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
    const packer = { kind: options.packer ?? 'f32-gemm', nr: options.nr ?? 16, kr: options.kr ?? 1, sr: options.sr ?? 1 } as const;
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
    this.#live().close();
    this.#native = undefined;
    try {
      return await PackedWeightsCache.compactFile(this.#openOptions.path);
    } finally {
      this.#native = await xnnpackAddon().open(this.#openOptions);
    }
  }

  /** Releases this handle; its views are detached. Idempotent. */
  close(): void {
    this.#native?.close();
    this.#native = undefined;
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  // ---- whole-file operations (no open cache needed) ----

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
