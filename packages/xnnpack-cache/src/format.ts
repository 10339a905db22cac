/**
 * XPWC cache files in weightkit's format registry, inspect-only: once this
 * package is imported, whatever reads the registry (`weightkit inspect`)
 * recognises a packed-weights cache and lists its entries, and
 * `openNamedDataMap` refuses one saying what it is (packed bytes are no
 * weights to view). The footer magic is written here once for TypeScript; the
 * native one is `kMagic` in weightkit/xnnpack/xpwc.hpp, and a test checks
 * that the two agree.
 * @module
 */
import { type FileProbe, WeightkitError, registerFormat } from '@weightkit/core';
import { xnnpackAddon } from './binding.js';

/** The u32 8 bytes before the end of an XPWC file: bytes 43 57 50 58 ("CWPX"), little-endian. */
export const XPWC_MAGIC = 0x58505743;

/** 2 when the file ends with an XPWC footer (the magic in its last 20 bytes), else 0. */
export function sniffXpwc(p: FileProbe): number {
  if (p.isDirectory || p.tail.length < 20) return 0;
  return new DataView(p.tail.buffer, p.tail.byteOffset, p.tail.byteLength).getUint32(p.tail.length - 8, true) === XPWC_MAGIC ? 2 : 0;
}

function notWeights(path: string): WeightkitError {
  return new WeightkitError(
    'WK_BAD_FORMAT',
    `'${path}' is an XPWC packed-weights cache, not weights: list it with 'weightkit cache inspect', use it with PackedWeightsCache.open`,
  );
}

registerFormat({
  name: 'xpwc',
  sniff: sniffXpwc,
  open: (path) => Promise.reject(notWeights(path)),
  openSync: (path) => {
    throw notWeights(path);
  },
  list: async (path) => {
    const info = await xnnpackAddon().inspectFile(path);
    return { format: 'xpwc', entries: info.entries.map((e) => ({ name: e.name, byteLength: e.size })) };
  },
});
