/**
 * The only module that loads and types @weightkit/core's addon.
 * @internal
 * @module
 */
import { type AddonBase, loadNativeAddon } from './native-loader.js';

/** Kernel hints for a mapped range. */
export type Advice = 'normal' | 'sequential' | 'random' | 'willneed' | 'dontneed';

/** A read-only mapping of (a validated range of) one file. */
export interface NativeMapping {
  readonly size: number;
  readonly fileSize: number;
  readonly path: string | undefined;
  readonly closed: boolean;
  /** The file as it was mapped (device, inode, size, times), as an opaque token. */
  readonly fileId: string | undefined;
  /** Bytes copied because this runtime forbids external buffers (0 on Node). */
  readonly copiedBytes: number;
  /** Zero-copy ArrayBuffer over [offset, offset+length) of the mapping. */
  view(offset: number, length: number): ArrayBuffer;
  advise(kind: Advice, offset?: number, length?: number): void;
  /** Another handle on the same mapping with its own views. */
  share(): NativeMapping;
  /** Detaches this handle's views and drops its reference on the mapping. */
  close(): void;
}

export interface MapOptions {
  offset?: number;
  length?: number;
  populate?: boolean;
}

/** One member of a zip archive. */
export interface ZipMember {
  readonly name: string;
  /** First byte of the member's data in the file. */
  readonly dataOffset: number;
  readonly size: number;
  /** False for a compressed member (weightkit maps stored members only). */
  readonly stored: boolean;
}

interface CoreAddon extends AddonBase {
  openMapping(path: string, options?: MapOptions): Promise<NativeMapping>;
  openMappingSync(path: string, options?: MapOptions): NativeMapping;
  /** TF.js quantized values of `src` into `dst` (as many values as dst holds). */
  dequantize(kind: 'uint8' | 'uint16' | 'float16', src: Uint8Array, dst: Float32Array | Int32Array, scale: number, min: number): void;
  /** Faults in the whole pages of a fresh array for writing (huge pages from 4 MiB), best effort. */
  prefaultForWrite(array: Float32Array | Int32Array): void;
  readonly pageSize: number;
  /** An exclusive writer's lock in `lockFile` (kept until release() or exit); WK_LOCKED names `what` when taken. */
  lockPath(lockFile: string, what: string): { release(): void };
  /** Where every member of the zip at `path` lies, validated (headers inside the file, no overlaps), never extracted. */
  zipDirectory(path: string): { members: ZipMember[]; fileSize: number };
  /** Swaps two existing paths in one step (renameat2 RENAME_EXCHANGE). */
  exchangePaths(a: string, b: string): void;
}

let addon: CoreAddon | undefined;

/** The core addon, loaded on first use. */
export function coreAddon(): CoreAddon {
  addon ??= loadNativeAddon<CoreAddon>(import.meta.url, 'weightkit_core');
  return addon;
}
