/**
 * Choosing the device: the real CUDA runtime when a GPU is present, else the
 * emulated one. Probing happens in a child process, so a broken driver cannot
 * take the caller down.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { WeightkitError } from '@weightkit/core';
import { addonPath, cudaLibraryPath } from './binding.js';

/** What the CUDA probe found. */
export interface CudaProbe {
  /** True when the real-CUDA device layer is built and a device answered. */
  available: boolean;
  /** Devices the CUDA runtime reports. */
  count: number;
  /** Why CUDA is not used, when it is not. */
  reason: string;
  /** True when the real-CUDA variant was built (nvcc was present at build time). */
  built: boolean;
}

let cached: CudaProbe | undefined;

/** Asks, once per process and in a child process, whether a CUDA device is usable. */
export function probeCuda(): CudaProbe {
  if (cached) return cached;
  const lib = cudaLibraryPath();
  if (!lib) {
    cached = { available: false, count: 0, built: false, reason: 'the real-CUDA device layer was not built (no nvcc at build time)' };
    return cached;
  }
  const script = `const a = require(${JSON.stringify(addonPath())}); process.stdout.write(JSON.stringify(a.cudaDeviceCount(${JSON.stringify(lib)})));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    cached = { available: false, count: 0, built: true, reason: `the CUDA probe failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim().split('\n').pop() ?? ''}` };
    return cached;
  }
  const out = JSON.parse(r.stdout) as { count: number; error?: string };
  cached = out.count > 0
    ? { available: true, count: out.count, built: true, reason: `${out.count} CUDA device(s)` }
    : { available: false, count: 0, built: true, reason: out.error ?? 'no CUDA device is present' };
  return cached;
}

/** Resolves `auto`; refuses `cuda` when no device can be used. */
export function chooseDevice(requested: 'auto' | 'cuda' | 'emu'): { device: 'cuda' | 'emu'; reason: string } {
  if (requested === 'emu') return { device: 'emu', reason: 'the emulated CUDA runtime was requested' };
  const probe = probeCuda();
  if (probe.available) return { device: 'cuda', reason: probe.reason };
  if (requested === 'cuda') throw new WeightkitError('WK_DEVICE', `device 'cuda' was requested but ${probe.reason}; use device 'auto' or 'emu'`);
  return { device: 'emu', reason: `emulated CUDA runtime: ${probe.reason}` };
}
