/**
 * The CLI's one entry point for `<model>` arguments: core's format registry,
 * with every backend's readers registered (importing @weightkit/aoti-blob
 * adds AOTInductor), so the CLI opens exactly what `openNamedDataMap` opens.
 * @module
 */
import { type NamedDataMap, openNamedDataMap } from '@weightkit/core';
import '@weightkit/aoti-blob';

/** Opens `path` with the reader its format needs. */
export function openWeights(path: string, options: { model?: string } = {}): Promise<NamedDataMap> {
  return openNamedDataMap(path, options.model !== undefined ? { model: options.model } : {});
}
