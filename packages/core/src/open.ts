/**
 * Format detection and one entry point that opens any supported weights file.
 *
 * @module
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { WeightkitError, fromSystemError } from './errors.js';
import type { NamedDataMap, WeightFormat } from './named-data-map.js';
import { BackendOptions, CORE_OPTIONS } from './options.js';
import { SafetensorsMap, type SafetensorsOpenOptions } from './safetensors.js';
import { TfjsMap } from './tfjs.js';

/**
 * Reads the first bytes of `path` (never the whole file) and tells which
 * format it is, or `undefined` when it is none weightkit's core reads.
 */
export function sniffFormat(path: string): WeightFormat | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new WeightkitError('WK_BAD_ARGUMENT', `'${path}' is not a regular file`);
    const head = Buffer.alloc(64);
    const n = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('latin1').trimStart();
    if (path.endsWith('.safetensors') || (n >= 9 && head[8] === 0x7b /* '{' */)) return 'safetensors';
    if (text.startsWith('[') || (text.startsWith('{') && path.endsWith('.json'))) return 'tfjs';
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function unknownFormat(path: string): WeightkitError {
  return new WeightkitError(
    'WK_UNSUPPORTED',
    `'${path}' is not a format weightkit reads (safetensors, or a TensorFlow.js model.json / *-weights_manifest.json)`,
  );
}

function mapOptions(options: BackendOptions): SafetensorsOpenOptions {
  return {
    populate: options.get<boolean>(CORE_OPTIONS.populate.key),
    advice: options.get<SafetensorsOpenOptions['advice'] & string>(CORE_OPTIONS.advice.key),
  };
}

/** Core's options from its own `WEIGHTKIT_CORE_*` variables. */
function coreOptions(): BackendOptions {
  return BackendOptions.fromEnv(process.env, {}, ['core']);
}

/**
 * Opens any weights file the core reads as a {@link NamedDataMap}. Options
 * default to core's own `WEIGHTKIT_CORE_*` variables.
 */
export async function openNamedDataMap(path: string, options: BackendOptions = coreOptions()): Promise<NamedDataMap> {
  switch (sniffFormat(path)) {
    case 'safetensors': return SafetensorsMap.open(path, mapOptions(options));
    case 'tfjs': return TfjsMap.open(path);
    default: throw unknownFormat(path);
  }
}

/** Synchronous {@link openNamedDataMap}. */
export function openNamedDataMapSync(path: string, options: BackendOptions = coreOptions()): NamedDataMap {
  switch (sniffFormat(path)) {
    case 'safetensors': return SafetensorsMap.openSync(path, mapOptions(options));
    case 'tfjs': return TfjsMap.openSync(path);
    default: throw unknownFormat(path);
  }
}
