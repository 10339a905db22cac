/**
 * The only module that loads and types @weightkit/cuda-offload's addon.
 * @internal
 * @module
 */
import { type AddonBase, findNativeFile, loadNativeAddon, nativeFileCandidates } from '@weightkit/core/internal';
import type { OffloadLimits, OffloadStats, OffloadWeight } from './types.js';

export interface NativePlan {
  floorBytes: number;
  totalBytes: number;
  largestWeightBytes: number;
  largestPairBytes: number;
  /** With a budget only. */
  budgetBytes?: number;
  lowerBoundBytesPerPass?: number;
  plannedBytesPerPass?: number | null;
}

/** What the addon reports: the public stats less what the JS side adds. */
export type NativeStats = Omit<OffloadStats, 'device' | 'budgetBytes'>;

export interface NativeAcquired {
  weight: number;
  name: string;
  devicePtr: bigint;
  bytes: number;
  hit: boolean;
}

export interface NativeRuntime {
  readonly device: 'cuda' | 'emu';
  acquire(probe: number): NativeAcquired;
  acquireNext(name: string): NativeAcquired;
  release(probe: number): void;
  compute(step: number): void;
  runPasses(passes: number, cancel?: Int32Array): Promise<void>;
  /** A snapshot of the last finished pass while busy. */
  stats(): NativeStats;
  readBack(weight: number): Uint8Array;
  busy(): boolean;
  /** Resolves once the session (and its device memory) is freed. */
  close(): Promise<void>;
}

export interface NativeCreateOptions {
  weights: OffloadWeight[];
  schedule?: number[][];
  budgetBytes: number;
  policy?: 'next-use' | 'lru';
  objective?: 'fastest' | 'fewest-bytes';
  pinned?: number[];
  prefetchBytes?: number;
  prefetchUs?: number;
  computeUsPerStep?: number;
  computeUsPerMiB?: number;
  device: 'cuda' | 'emu';
  cudaLibrary?: string;
  populate?: boolean;
  emu?: { h2dGBps?: number; copyLatencyUs?: number; pageableFactor?: number; hostRegister?: boolean };
}

interface OffloadAddon extends AddonBase {
  plan(weights: { name: string; bytes: number }[], schedule: number[][] | undefined, budgetBytes?: number): NativePlan;
  simulate(weights: { name: string; bytes: number }[], schedule: number[][] | undefined, budgetBytes: number, policy: string, passes: number): number[];
  readonly limits: OffloadLimits;
  create(options: NativeCreateOptions): Promise<NativeRuntime>;
  cudaDeviceCount(libraryPath: string): { count: number; error?: string };
}

let addon: OffloadAddon | undefined;

export function offloadAddon(): OffloadAddon {
  addon ??= loadNativeAddon<OffloadAddon>(import.meta.url, 'weightkit_offload');
  return addon;
}

/**
 * The real-CUDA device layer (CUDA's runtime linked in statically; it needs
 * only the driver, found at run time), shipped prebuilt and built wherever
 * nvcc was present at build time.
 */
export function cudaLibraryPath(): string | undefined {
  return findNativeFile(import.meta.url, 'libweightkit_offload_cuda.so');
}

/** The addon file itself (for probing CUDA in a child process). */
export function addonPath(): string {
  return findNativeFile(import.meta.url, 'weightkit_offload.node') ?? nativeFileCandidates(import.meta.url, 'weightkit_offload.node')[0]!;
}
