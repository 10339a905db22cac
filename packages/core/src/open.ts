/**
 * Core's formats in the registry: safetensors (one file, or a sharded
 * checkpoint's index) and TensorFlow.js.
 *
 * @module
 */
import { type FileProbe, type OpenOptions, registerFormat } from './formats.js';
import { BackendOptions, CORE_OPTIONS } from './options.js';
import { SAFETENSORS_MAX_HEADER_BYTES, SafetensorsMap, type SafetensorsOpenOptions } from './safetensors.js';
import { ShardedSafetensorsMap } from './safetensors-index.js';
import { TfjsMap } from './tfjs.js';

function isJsonSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The first byte at or after `from` that is not JSON whitespace. */
function firstNonSpace(bytes: Uint8Array, from: number): number | undefined {
  let i = from;
  while (i < bytes.length && isJsonSpace(bytes[i])) i++;
  return bytes[i];
}

/** 2 when the length prefix fits the file and the header starts like a JSON object; 1 for the name alone. */
export function sniffSafetensors(p: FileProbe): number {
  const named = p.path.endsWith('.safetensors') ? 1 : 0;
  if (p.isDirectory || p.head.length < 9) return named;
  const n = new DataView(p.head.buffer, p.head.byteOffset, 8).getBigUint64(0, true);
  const fits = n >= 2n && n <= BigInt(SAFETENSORS_MAX_HEADER_BYTES) && 8n + n <= BigInt(p.size);
  return fits && firstNonSpace(p.head, 8) === 0x7b /* '{' */ ? 2 : named;
}

/** 2 for a JSON index whose weight_map names .safetensors shards; 1 for the name alone. */
export function sniffSafetensorsIndex(p: FileProbe): number {
  const named = p.path.endsWith('.safetensors.index.json') ? 1 : 0;
  if (p.isDirectory || firstNonSpace(p.head, 0) !== 0x7b /* '{' */) return 0;
  const text = Buffer.from(p.head.buffer, p.head.byteOffset, p.head.byteLength).toString('latin1');
  return /"weight_map"\s*:/.test(text) && (named || /\.safetensors"/.test(text)) ? 2 : named;
}

/** 2 for JSON that names weights (a manifest array, or a model.json with weightsManifest); 1 for other JSON. */
export function sniffTfjs(p: FileProbe): number {
  if (p.isDirectory) return 0;
  const first = firstNonSpace(p.head, 0);
  if (first !== 0x5b /* '[' */ && first !== 0x7b /* '{' */) return 0;
  const text = Buffer.from(p.head.buffer, p.head.byteOffset, p.head.byteLength).toString('latin1');
  return /"(weightsManifest|paths|weights)"\s*:/.test(text) ? 2 : 1;
}

function mapOptions(o: OpenOptions): SafetensorsOpenOptions {
  const options = o.backend ?? BackendOptions.fromEnv(process.env, {}, ['core']);
  return {
    populate: options.get<boolean>(CORE_OPTIONS.populate.key),
    advice: options.get<SafetensorsOpenOptions['advice'] & string>(CORE_OPTIONS.advice.key),
  };
}

registerFormat({
  name: 'safetensors',
  sniff: sniffSafetensors,
  open: (path, o) => SafetensorsMap.open(path, mapOptions(o)),
  openSync: (path, o) => SafetensorsMap.openSync(path, mapOptions(o)),
});

registerFormat({
  name: 'safetensors-sharded',
  sniff: sniffSafetensorsIndex,
  open: (path, o) => ShardedSafetensorsMap.open(path, mapOptions(o)),
  openSync: (path, o) => ShardedSafetensorsMap.openSync(path, mapOptions(o)),
});

registerFormat({
  name: 'tfjs',
  sniff: sniffTfjs,
  open: (path) => TfjsMap.open(path),
  openSync: (path) => TfjsMap.openSync(path),
});
