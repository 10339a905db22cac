/**
 * Native measurements for the benchmark in tools/bench (not part of the cache API).
 * @module
 */
import { xnnpackAddon } from './binding.js';

/** Median ns to pack an [nc, kc] f32 weight vs memcpy of the same source bytes, measured together. */
export function timePacker(packer: 'f32-gemm' | 'qc8w', nc: number, kc: number, reps = 9, nr = 16) {
  return xnnpackAddon().benchPacker({ kind: packer, nr, kr: 1, sr: 1 }, nc, kc, reps);
}

/**
 * Milliseconds to fill `totalBytes` of a new file through MAP_SHARED regions
 * and msync them: `sparse` = ftruncate per region (ExecuTorch's way), else
 * posix_fallocate first (weightkit's way).
 */
export function timeFileBacking(path: string, totalBytes: number, regionBytes: number, sparse: boolean): Promise<number> {
  return xnnpackAddon().benchFileBacking(path, totalBytes, regionBytes, sparse);
}
