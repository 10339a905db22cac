/**
 * AOTInductor weights in weightkit's format registry: once this package is
 * imported, `openNamedDataMap` (and the CLI) open .pt2 packages, extracted
 * model folders, `<key>.wrapper_weights.blob` files and `.so` libraries.
 * @module
 */
import { type FileProbe, type OpenOptions, CORE_OPTIONS, registerFormat } from '@weightkit/core';
import { type AotiOpenOptions, AotiWeights } from './weights.js';

const ZIP = [0x50, 0x4b, 0x03, 0x04];
const ELF = [0x7f, 0x45, 0x4c, 0x46];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** 2 for a zip or ELF magic, 1 for a folder or an AOTInductor file name. */
export function sniffAoti(p: FileProbe): number {
  if (p.isDirectory) return 1;
  if (startsWith(p.head, ZIP) || startsWith(p.head, ELF)) return 2;
  return /\.(pt2|so|wrapper_weights\.blob|wrapper\.cpp)$/.test(p.path) ? 1 : 0;
}

function aotiOptions(o: OpenOptions): AotiOpenOptions {
  return {
    ...(o.model !== undefined ? { model: o.model } : {}),
    ...(o.backend ? { populate: o.backend.get<boolean>(CORE_OPTIONS.populate.key) } : {}),
  };
}

registerFormat({
  name: 'aoti',
  sniff: sniffAoti,
  open: (path, o) => AotiWeights.open(path, aotiOptions(o)),
  openSync: (path, o) => AotiWeights.openSync(path, aotiOptions(o)),
});
