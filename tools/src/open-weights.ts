/**
 * The CLI's one entry point for `<model>` arguments: core's format registry,
 * with every backend's readers registered (importing @weightkit/aoti-blob
 * adds AOTInductor, @weightkit/xnnpack-cache the inspect-only XPWC), so the
 * CLI opens exactly what `openNamedDataMap` opens:
 * a file (followed through links), a model folder or hub snapshot, or a hub
 * repository folder (`--revision`), with `--weights` to pick a file of a folder.
 * @module
 */
import { type NamedDataMap, type OpenOptions, openNamedDataMap } from '@weightkit/core';
import '@weightkit/aoti-blob';
import '@weightkit/xnnpack-cache';

/** The options every command taking a `<model>` accepts (spread into its parse config). */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  revision: { type: 'string' },
} as const;

/** What `<model>` accepts, for the commands' usage texts. */
export const MODEL_USAGE = `<model>: a weights file (safetensors, a sharded checkpoint's .index.json, TF.js,
  .pt2), a model folder or hub snapshot, or a hub repository folder
  (~/.cache/huggingface/hub/models--org--name). --weights <file> picks a file
  of a folder; --revision <branch|tag|commit> a hub snapshot (default main);
  --model <name> a model of a .pt2 holding several.`;

/** Opens `path` with the reader its format needs. */
export function openWeights(path: string, options: { model?: string | undefined; weights?: string | undefined; revision?: string | undefined } = {}): Promise<NamedDataMap> {
  const o: { -readonly [K in keyof OpenOptions]: OpenOptions[K] } = {};
  if (options.model !== undefined) o.model = options.model;
  if (options.weights !== undefined) o.weights = options.weights;
  if (options.revision !== undefined) o.revision = options.revision;
  return openNamedDataMap(path, o);
}
