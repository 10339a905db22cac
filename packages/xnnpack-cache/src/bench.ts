/**
 * Native measurements for the benchmark in tools/bench (not part of the cache API).
 * @module
 */
import { type FileBacking, xnnpackAddon } from './binding.js';

export type { FileBacking };

/** Median ns to pack an [nc, kc] f32 weight vs memcpy of the same source bytes, measured together. */
export function timePacker(packer: 'f32-gemm' | 'qc8w', nc: number, kc: number, reps = 9, nr = 16) {
  return xnnpackAddon().benchPacker({ kind: packer, nr, kr: 1, sr: 1 }, nc, kc, reps);
}

/**
 * Milliseconds to fill `totalBytes` of a new file region by region and wait
 * until it is on disk: `sparse-mmap` = ftruncate, memcpy into MAP_SHARED
 * regions and msync (ExecuTorch's way); `fallocate-mmap` = the same with
 * posix_fallocate first; `fallocate-pwrite` = posix_fallocate, then pwrite
 * from a reused buffer (how the cache writes packed weights).
 */
export function timeFileBacking(path: string, totalBytes: number, regionBytes: number, how: FileBacking): Promise<number> {
  return xnnpackAddon().benchFileBacking(path, totalBytes, regionBytes, how);
}
