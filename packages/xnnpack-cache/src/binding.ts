/**
 * The only module that loads and types @weightkit/xnnpack-cache's addon.
 * @internal
 * @module
 */
import { type AddonBase, loadNativeAddon } from '@weightkit/core/internal';
import type { CacheFileInfo, CacheStats, CompactReport, VerifyReport } from './types.js';

export interface NativeKey {
  name: string;
  seed?: number;
  packerId?: number;
  packerVersion?: number;
  inputHash?: bigint;
}

export interface NativeSource {
  dtype: 'float32' | 'float16' | 'bfloat16';
  path?: string;
  offset?: number;
  length?: number;
  /** The file as the map opened it: the packer refuses a file that changed since. */
  fileId?: string;
  bytes?: Uint8Array;
}

export interface NativePackItem {
  name: string;
  nc: number;
  kc: number;
  layout: 'oi' | 'io';
  weight: NativeSource;
  bias?: NativeSource;
}

export interface NativePacker {
  kind: 'f32-gemm' | 'qc8w';
  nr: number;
  kr: number;
  sr: number;
}

export interface NativeCache {
  lookUp(key: NativeKey): number | undefined;
  reserve(size: number): Uint8Array | undefined;
  insert(key: NativeKey, data?: ArrayBufferView): number | undefined;
  offsetToAddr(offset: number): Uint8Array;
  view(name: string): Uint8Array | undefined;
  initialize(): void;
  finalize(): string[];
  release(names: readonly string[]): void;
  isFinalized(): boolean;
  save(): Promise<boolean>;
  verify(): Promise<VerifyReport>;
  stats(): CacheStats;
  names(): string[];
  probe(items: { name: string; nc: number; kc: number }[], packer: NativePacker): boolean[];
  pack(items: NativePackItem[], packer: NativePacker, hashInputs: boolean, cancel?: Int32Array): Promise<{ packed: number; hits: number; packedBytes: number }>;
  /** Detaches every view now; resolves once the cache (and its final save) is released. */
  close(): Promise<void>;
}

export interface NativeOpenOptions {
  path: string;
  asyncFlush: boolean;
  populate: boolean;
  lockWaitMs: number;
  verify: 'first-use' | 'open' | 'none';
}

interface XnnpackAddon extends AddonBase {
  open(options: NativeOpenOptions): Promise<NativeCache>;
  inspectFile(path: string): Promise<CacheFileInfo>;
  verifyFile(path: string): Promise<VerifyReport>;
  compactFile(path: string): Promise<CompactReport>;
  /** The native footer magic (xpwc.hpp's kMagic). */
  readonly xpwcMagic: number;
  /** The longest lock wait the core accepts (cache.hpp's kMaxLockWaitMs). */
  readonly maxLockWaitMs: number;
}

let addon: XnnpackAddon | undefined;

export function xnnpackAddon(): XnnpackAddon {
  addon ??= loadNativeAddon<XnnpackAddon>(import.meta.url, 'weightkit_xnnpack');
  return addon;
}
