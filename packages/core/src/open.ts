/**
 * Core's formats in the registry: safetensors and PyTorch checkpoints (one
 * file, or a sharded checkpoint's index) and TensorFlow.js.
 *
 * @module
 */
import { type FileProbe, type OpenOptions, registerFormat } from './formats.js';
import { BackendOptions, CORE_OPTIONS } from './options.js';
import { SAFETENSORS_MAX_HEADER_BYTES, SafetensorsMap, type SafetensorsOpenOptions } from './safetensors.js';
import { PyTorchMap } from './pytorch.js';
import { ShardedMap } from './sharded.js';
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

/** How strongly `p` looks like a Hugging Face shard index whose shards end in `shard` (`.safetensors`, `.bin`): 2 by its content, 1 by its name. */
function sniffIndex(p: FileProbe, shard: string): number {
  const named = p.path.endsWith(`${shard}.index.json`) ? 1 : 0;
  if (p.isDirectory || firstNonSpace(p.head, 0) !== 0x7b /* '{' */) return 0;
  const text = Buffer.from(p.head.buffer, p.head.byteOffset, p.head.byteLength).toString('latin1');
  return /"weight_map"\s*:/.test(text) && (named || text.includes(`${shard}"`)) ? 2 : named;
}

/**
 * 2 for a torch.save zip (its first member is `<archive>/data.pkl`); 1 for a
 * .bin/.pt/.pth file that starts as a zip or a pickle stream (the legacy
 * format, refused with a hint); 0 otherwise (a TF.js shard is a .bin too).
 */
export function sniffPyTorch(p: FileProbe): number {
  if (p.isDirectory || p.head.length < 4) return 0;
  const zip = p.head[0] === 0x50 && p.head[1] === 0x4b && p.head[2] === 3 && p.head[3] === 4;
  if (zip && Buffer.from(p.head.buffer, p.head.byteOffset, p.head.byteLength).includes('/data.pkl')) return 2;
  const pickle = p.head[0] === 0x80 && p.head[1]! >= 2 && p.head[1]! <= 5;
  return /\.(bin|pt|pth)$/.test(p.path) && (zip || pickle) ? 1 : 0;
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
  sniff: (p) => sniffIndex(p, '.safetensors'),
  open: (path, o) => ShardedMap.open(path, mapOptions(o)),
  openSync: (path, o) => ShardedMap.openSync(path, mapOptions(o)),
});

registerFormat({
  name: 'pytorch',
  sniff: sniffPyTorch,
  open: (path, o) => PyTorchMap.open(path, mapOptions(o)),
  openSync: (path, o) => PyTorchMap.openSync(path, mapOptions(o)),
});

registerFormat({
  name: 'pytorch-sharded',
  sniff: (p) => sniffIndex(p, '.bin'),
  open: (path, o) => ShardedMap.open(path, mapOptions(o)),
  openSync: (path, o) => ShardedMap.openSync(path, mapOptions(o)),
});

registerFormat({
  name: 'tfjs',
  sniff: sniffTfjs,
  open: (path) => TfjsMap.open(path),
  openSync: (path) => TfjsMap.openSync(path),
});
