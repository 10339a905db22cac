/**
 * Opens anything weightkit reads — safetensors, TF.js, AOTInductor (.pt2,
 * model folders, blobs, .so) — as a NamedDataMap. The CLI's one entry point
 * for `<model>` arguments.
 * @module
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { type NamedDataMap, WeightkitError, fromSystemError, openNamedDataMap, sniffFormat } from '@weightkit/core';
import { AotiWeights } from '@weightkit/aoti-blob';

/** True when `path` ends with an XPWC footer (a packed-weights cache file). */
export function looksLikeXpwc(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  try {
    const size = fstatSync(fd).size;
    if (!fstatSync(fd).isFile() || size < 20) return false;
    const tail = Buffer.alloc(8);
    readSync(fd, tail, 0, 8, size - 8);
    return tail.readUInt32LE(0) === 0x58505743;
  } finally {
    closeSync(fd);
  }
}

/** True when `path` looks like AOTInductor weights (zip or ELF magic, a folder, a blob or wrapper source). */
export function looksLikeAoti(path: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  if (st.isDirectory()) return true;
  if (/\.(pt2|wrapper_weights\.blob|wrapper\.cpp|so)$/.test(path)) return true;
  if (!st.isFile()) return false;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.equals(Buffer.from('PK\x03\x04', 'latin1')) || head.equals(Buffer.from('\x7fELF', 'latin1'));
  } finally {
    closeSync(fd);
  }
}

/** Opens `path` with the reader its format needs. */
export async function openWeights(path: string, options: { model?: string } = {}): Promise<NamedDataMap> {
  if (looksLikeAoti(path)) return AotiWeights.open(path, options.model !== undefined ? { model: options.model } : {});
  if (sniffFormat(path)) return openNamedDataMap(path);
  throw new WeightkitError(
    'WK_UNSUPPORTED',
    `'${path}' is not a format weightkit reads (safetensors, a TF.js manifest, or AOTInductor .pt2 / folder / blob / .so)`,
  );
}
