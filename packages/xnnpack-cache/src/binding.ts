/**
 * The only module that loads and types @weightkit/xnnpack-cache's addon.
 * @internal
 * @module
 */
import { type AddonBase, loadNativeAddon } from '@weightkit/core';
import type { CacheFileInfo, CacheStats, CompactReport, VerifyReport } from './types.js';

/** How a benchmark fills a file: see timeFileBacking. */
export type FileBacking = 'sparse-mmap' | 'fallocate-mmap' | 'fallocate-pwrite';

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
  pack(items: NativePackItem[], packer: NativePacker, hashInputs: boolean): Promise<{ packed: number; hits: number; packedBytes: number }>;
  close(): void;
}

interface XnnpackAddon extends AddonBase {
  open(options: { path?: string; asyncFlush?: boolean; lockWaitMs?: number; verifyOnOpen?: boolean }): Promise<NativeCache>;
  inspectFile(path: string): Promise<CacheFileInfo>;
  verifyFile(path: string): Promise<VerifyReport>;
  compactFile(path: string): Promise<CompactReport>;
  benchPacker(packer: NativePacker, nc: number, kc: number, reps: number): Promise<{ packNs: number; memcpyNs: number; sourceBytes: number; packedBytes: number }>;
  benchFileBacking(path: string, totalBytes: number, regionBytes: number, how: FileBacking): Promise<number>;
}

let addon: XnnpackAddon | undefined;

export function xnnpackAddon(): XnnpackAddon {
  addon ??= loadNativeAddon<XnnpackAddon>(import.meta.url, 'weightkit_xnnpack');
  return addon;
}
