/**
 * Fresh arrays for decoded values. A new typed array's pages are first
 * touched by the decoder, one page fault per 4 KiB; on the virtual machines
 * measured that costs ~10 us a page, 25x more than writing the values
 * (docs/bench/tfjs.md). Asking the kernel to fault the pages in at once, on
 * huge pages where it can, takes most of that away; where it cannot (an old
 * kernel, THP off, a sandbox refusing madvise) the decoder faults them in as
 * before. The array stays an ordinary V8 allocation either way, so it is
 * collected and counted as any other (and works inside Electron's memory cage).
 * @module
 */
import { coreAddon } from './binding.js';

/**
 * Arrays of at least this many bytes are prefaulted. Smaller ones mostly come
 * from memory the C heap recycles, already faulted in, where the system call
 * is pure cost (measured on the face-api models loaded repeatedly: 64 KiB
 * made their values 40% slower, 4 MiB left them unchanged); from here on the
 * array spans a whole huge page.
 */
export const PREFAULT_FROM_BYTES = 4 * 2 ** 20;

/**
 * A new Float32Array or Int32Array of `n` values for a decoder that writes
 * every one of them: not zeroed first (a second pass over memory the decoder
 * overwrites anyway), its pages faulted in for writing when it is large.
 */
export function freshOutput(dtype: 'float32' | 'int32', n: number): Float32Array | Int32Array {
  const bytes = Buffer.allocUnsafeSlow(n * 4); // its own ArrayBuffer at offset 0, never the shared pool
  const out = dtype === 'int32' ? new Int32Array(bytes.buffer, 0, n) : new Float32Array(bytes.buffer, 0, n);
  if (out.byteLength >= PREFAULT_FROM_BYTES) coreAddon().prefaultForWrite(out);
  return out;
}
