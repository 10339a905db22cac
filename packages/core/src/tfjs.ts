/**
 * TensorFlow.js weights: a manifest (`model.json` with `weightsManifest`, or a
 * `*-weights_manifest.json` array) naming groups of `.bin` shards. A group's
 * shards are one byte stream; its weights follow each other in it, so a tensor
 * may span two shards. Quantized weights (uint8/uint16 affine, float16) are
 * decoded to their declared dtype on access. Format: docs/formats/tfjs.md.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { type Quantization, type TensorInfo, WeightCatalog, numelOf } from './catalog.js';
import { type DType, dtypeFromTfjs, storageBytes, typedView, type TypedArray } from './dtype.js';
import { WeightkitError, fromSystemError, shown } from './errors.js';
import { readRegularSync } from './files.js';
import { coreAddon } from './binding.js';
import { freshOutput } from './decode-output.js';
import { FileMapping } from './mapping.js';
import { memberPath, namedFolderOf, realPathOf } from './model-paths.js';
import { CatalogMap, type FileRange, type NamedDataMap } from './named-data-map.js';

/** Largest manifest accepted. */
export const TFJS_MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** One validated group of shards. */
export interface TfjsGroup {
  /** Storage key used by the group's TensorInfo entries. */
  readonly storage: string;
  /** Absolute shard paths, in order. */
  readonly shards: readonly string[];
}

/** A validated manifest: the catalog plus where each group's bytes live. */
export interface TfjsManifest {
  readonly catalog: WeightCatalog;
  readonly groups: readonly TfjsGroup[];
  /** Bytes each group's weights need (offsets are relative to the group's stream). */
  readonly groupBytes: readonly number[];
}

function bad(message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `TensorFlow.js manifest: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const QUANT_DTYPES = new Set(['uint8', 'uint16', 'float16']);
/** The dtypes tfjs-core's loader decodes without quantization (string tensors are not weights weightkit maps). */
const PLAIN_DTYPES = new Set(['float32', 'int32', 'bool', 'complex64']);

function unsupported(message: string): WeightkitError {
  return new WeightkitError('WK_UNSUPPORTED', `TensorFlow.js manifest: ${message}`);
}

function parseQuantization(name: string, q: unknown, dtype: DType): Quantization | undefined {
  if (q === undefined) {
    if (!PLAIN_DTYPES.has(dtype)) {
      throw unsupported(`weight '${name}' has dtype ${dtype} without quantization, which TensorFlow.js's loader refuses (float32, int32, bool, complex64)`);
    }
    return undefined;
  }
  if (!isPlainObject(q)) throw bad(`weight '${name}' quantization is not an object`);
  const stored = q.dtype;
  if (typeof stored !== 'string' || !QUANT_DTYPES.has(stored)) {
    throw unsupported(`weight '${name}' uses quantization dtype ${shown(stored)} (TensorFlow.js supports uint8, uint16, float16)`);
  }
  if (stored === 'float16' && dtype !== 'float32') {
    throw unsupported(`weight '${name}' is ${dtype} quantized to float16, which TensorFlow.js's loader refuses (float16 quantizes float32 only)`);
  }
  if (dtype !== 'float32' && dtype !== 'int32') {
    throw unsupported(`weight '${name}' quantizes dtype ${dtype}, which TensorFlow.js's loader refuses (only float32 and int32)`);
  }
  if (stored === 'float16') return { storedDtype: 'float16' };
  const { scale, min } = q;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || typeof min !== 'number' || !Number.isFinite(min)) {
    throw bad(`weight '${name}' ${stored} quantization needs finite numeric scale and min`);
  }
  return { storedDtype: stored as DType, scale, min };
}

/** A shard path from a manifest, resolved inside the manifest's folder. */
function shardPath(dir: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) throw bad('a shard path is not a non-empty string');
  const decoded = p.replace(/%20/g, ' ');
  const rel = normalize(decoded);
  if (isAbsolute(decoded) || rel.startsWith('..') || rel.split(sep).includes('..') || decoded.includes('\0')) {
    throw bad(`shard path ${shown(p)} leaves the manifest's folder`);
  }
  return join(dir, rel);
}

/**
 * Validates a parsed manifest (either form) and lays out its weights.
 * `manifestPath` locates the shards; nothing is read here.
 */
export function parseTfjsManifest(json: unknown, manifestPath: string): Omit<TfjsManifest, 'catalog'> & { entries: TensorInfo[] } {
  let groupsJson: unknown = json;
  if (isPlainObject(json)) {
    if (!('weightsManifest' in json)) throw bad(`'${manifestPath}' has no weightsManifest`);
    groupsJson = json.weightsManifest;
  }
  if (!Array.isArray(groupsJson)) throw bad('the weights manifest is not an array of groups');
  const dir = dirname(manifestPath);
  const groups: TfjsGroup[] = [];
  const groupBytes: number[] = [];
  const entries: TensorInfo[] = [];
  // A shard listed twice would be mapped and stat'ed once per listing: a 9 MB
  // manifest naming one 4-byte shard a million times took 29 s and 2.1 GB.
  const listed = new Set<string>();
  groupsJson.forEach((g: unknown, gi: number) => {
    if (!isPlainObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw bad(`group ${gi} needs 'paths' and 'weights' arrays`);
    }
    if (g.paths.length === 0 && g.weights.length > 0) throw bad(`group ${gi} has weights but no shard paths`);
    const storage = `group${gi}`;
    const shards = g.paths.map((p) => {
      const path = shardPath(dir, p);
      if (listed.has(path)) throw bad(`shard path ${shown(p)} is listed more than once; every shard holds bytes of its own`);
      listed.add(path);
      return path;
    });
    groups.push({ storage, shards });
    let offset = 0;
    for (const w of g.weights as unknown[]) {
      if (!isPlainObject(w) || typeof w.name !== 'string' || w.name.length === 0) throw bad(`group ${gi} has a weight without a name`);
      const name = w.name;
      if (!name.isWellFormed()) throw bad('a weight name is not well-formed Unicode');
      if (!Array.isArray(w.shape)) throw bad(`weight '${name}' has no shape array`);
      if (typeof w.dtype !== 'string') throw bad(`weight '${name}' has no dtype`);
      if (w.dtype === 'string') throw new WeightkitError('WK_UNSUPPORTED', `TensorFlow.js manifest: weight '${name}' is a string tensor`);
      const dtype = dtypeFromTfjs(w.dtype).name;
      const quantization = parseQuantization(name, w.quantization, dtype);
      const shape = w.shape as number[];
      const numel = numelOf(shape, `weight '${name}'`);
      const bytes = storageBytes(quantization?.storedDtype ?? dtype, numel);
      if (bytes > BigInt(Number.MAX_SAFE_INTEGER - offset)) throw bad(`weight '${name}' does not fit in a byte stream`);
      const entry: TensorInfo = { name, dtype, shape, byteOffset: offset, byteLength: Number(bytes), storage };
      entries.push(quantization ? { ...entry, quantization } : entry);
      offset += Number(bytes);
    }
    groupBytes.push(offset);
  });
  return { groups, groupBytes, entries };
}

function readManifestJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(`'${path}' is not valid JSON (${(e as Error).message})`);
  }
}

interface Shard {
  readonly path: string;
  readonly mapping: FileMapping;
  /** Offset of the shard's first byte in its group's stream. */
  readonly start: number;
}

/** The group with its shards at their confined real paths (what is then mapped); `named` is the manifest's folder as named. */
function confineGroup(group: TfjsGroup, named: string, real: string): TfjsGroup {
  return { ...group, shards: group.shards.map((p) => memberPath(real, relative(named, p), `TensorFlow.js shard of ${group.storage}`)) };
}

function shardSizes(group: TfjsGroup, stat: (p: string) => number): number[] {
  return group.shards.map((p) => {
    try {
      return stat(p);
    } catch (e) {
      const err = fromSystemError(e, `shard '${p}' of ${group.storage}`);
      throw err.code === 'WK_NOT_FOUND' ? new WeightkitError('WK_NOT_FOUND', `TensorFlow.js shard '${p}' is missing`) : err;
    }
  });
}

function layout(manifestPath: string, parsed: ReturnType<typeof parseTfjsManifest>, sizes: number[][]): TfjsManifest {
  const bounds: Record<string, number> = {};
  parsed.groups.forEach((g, i) => {
    const have = sizes[i]!.reduce((a, b) => a + b, 0);
    const need = parsed.groupBytes[i]!;
    if (have < need) {
      throw bad(`${g.storage} of '${manifestPath}' needs ${need} bytes but its shards hold ${have} (truncated or missing shard?)`);
    }
    bounds[g.storage] = have;
  });
  return { catalog: new WeightCatalog(parsed.entries, { bounds }), groups: parsed.groups, groupBytes: parsed.groupBytes };
}

/** Reads and validates a manifest and the sizes of its shards (nothing mapped). */
export function readTfjsManifestSync(path: string): { manifest: TfjsManifest; sizes: number[][] } {
  // The manifest is followed through links (the path a user names); its
  // shards are named by the file, so they stay inside its folder as named.
  const real = realPathOf(path);
  const text = readRegularSync(real, TFJS_MAX_MANIFEST_BYTES, 'TensorFlow.js manifest').toString('utf8');
  const raw = parseTfjsManifest(readManifestJson(text, path), path);
  const folder = namedFolderOf(path, real);
  const parsed = { ...raw, groups: raw.groups.map((g) => confineGroup(g, dirname(path), folder)) };
  const sizes = parsed.groups.map((g) => shardSizes(g, (p) => statSync(p).size));
  return { manifest: layout(path, parsed, sizes), sizes };
}

/** A TensorFlow.js weights manifest and its shards as a {@link NamedDataMap}. */
export class TfjsMap extends CatalogMap {
  readonly format = 'tfjs' as const;
  readonly path: string;
  readonly catalog: WeightCatalog;
  readonly metadata: Readonly<Record<string, string>> = {};
  readonly #shards: Map<string, Shard[]>;
  #copied = 0;
  #closed = false;

  private constructor(path: string, manifest: TfjsManifest, shards: Map<string, Shard[]>) {
    super();
    this.path = path;
    this.catalog = manifest.catalog;
    this.#shards = shards;
  }

  static #mapAll(manifest: TfjsManifest, sizes: number[][], open: (p: string) => FileMapping): Map<string, Shard[]> {
    const out = new Map<string, Shard[]>();
    const opened: FileMapping[] = [];
    try {
      manifest.groups.forEach((g, gi) => {
        let start = 0;
        out.set(
          g.storage,
          g.shards.map((p, si) => {
            const mapping = open(p);
            opened.push(mapping);
            const shard = { path: p, mapping, start };
            start += sizes[gi]![si]!;
            return shard;
          }),
        );
      });
    } catch (e) {
      for (const m of opened) m.close();
      throw e;
    }
    return out;
  }

  /**
   * Opens a manifest and maps its shards. Mapping is a few system calls per
   * shard (no pre-faulting), so it happens at once; see FileMapping.open.
   */
  static async open(path: string): Promise<TfjsMap> {
    return TfjsMap.openSync(path);
  }

  /** Synchronous {@link TfjsMap.open}. */
  static openSync(path: string): TfjsMap {
    const { manifest, sizes } = readTfjsManifestSync(path);
    return new TfjsMap(path, manifest, TfjsMap.#mapAll(manifest, sizes, (p) => FileMapping.openSync(p)));
  }



  #singleShard(t: TensorInfo): Shard | undefined {
    return this.#shards.get(t.storage ?? '')!.find((s) => t.byteOffset >= s.start && t.byteOffset + t.byteLength <= s.start + s.mapping.size);
  }

  /** Stored bytes: a view when inside one shard, else a copy joined across shards. */
  bytes(name: string): Uint8Array {
    if (this.#closed) throw new WeightkitError('WK_CLOSED', 'the TensorFlow.js map was closed; reopen it');
    const t = this.catalog.get(name);
    const shards = this.#shards.get(t.storage ?? '')!;
    const end = t.byteOffset + t.byteLength;
    const parts: Uint8Array[] = [];
    for (const s of shards) {
      const sEnd = s.start + s.mapping.size;
      if (sEnd <= t.byteOffset || s.start >= end) continue;
      const from = Math.max(t.byteOffset, s.start) - s.start;
      const to = Math.min(end, sEnd) - s.start;
      parts.push(s.mapping.bytes(from, to - from));
    }
    if (parts.length === 1) return parts[0]!;
    const joined = new Uint8Array(t.byteLength);
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.byteLength;
    }
    this.#copied += t.byteLength;
    return joined;
  }

  get(name: string): TypedArray {
    const t = this.catalog.get(name);
    if (this.#closed) throw new WeightkitError('WK_CLOSED', 'the TensorFlow.js map was closed; reopen it');
    if (!t.quantization) {
      // Inside one shard: zero-copy (typed() handles misaligned offsets); across shards: the joined copy.
      const one = this.#singleShard(t);
      if (one) return one.mapping.typed(t.dtype, t.byteOffset - one.start, t.byteLength);
      const joined = this.bytes(name);
      return typedView(t.dtype, joined.buffer, joined.byteOffset, joined.byteLength);
    }
    const decoded = dequantize(this.bytes(name), t.quantization, t.dtype);
    this.#copied += decoded.byteLength;
    return decoded;
  }

  location(name: string): FileRange | undefined {
    if (this.#closed) throw new WeightkitError('WK_CLOSED', 'the TensorFlow.js map was closed; reopen it');
    const t = this.catalog.get(name);
    const one = t.quantization ? undefined : this.#singleShard(t);
    return one ? { path: one.path, offset: t.byteOffset - one.start, length: t.byteLength, fileId: one.mapping.fileId! } : undefined;
  }

  get copiedBytes(): number {
    let n = this.#copied;
    for (const shards of this.#shards.values()) for (const s of shards) n += s.mapping.copiedBytes;
    return n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const shards of this.#shards.values()) for (const s of shards) s.mapping.close();
  }
}

/**
 * Decodes quantized bytes to `dtype` as TensorFlow.js's loader does, bit for
 * bit: `v * scale + min` in double, stored as float32 (or int32 by Math.round);
 * float16 by tfjs's half-to-float table. Natively (weightkit/dequantize.hpp).
 *
 * Into a new array (its pages faulted in ahead, see docs/bench/tfjs.md), or
 * into `out` to reuse memory: a Float32Array (an Int32Array for `int32`)
 * holding exactly as many values as `raw` does; WK_BAD_ARGUMENT otherwise.
 */
export function dequantize(raw: Uint8Array, q: Quantization, dtype: DType, out?: Float32Array | Int32Array): Float32Array | Int32Array {
  const item = q.storedDtype === 'uint8' ? 1 : 2;
  const n = Math.floor(raw.byteLength / item);
  const to = dtype === 'int32' ? 'int32' : 'float32';
  if (out !== undefined) {
    const kind = to === 'int32' ? Int32Array : Float32Array;
    if (!(out instanceof kind) || out.length !== n) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `dequantize: out must be a ${kind.name} of ${n} values (${raw.byteLength} bytes of ${q.storedDtype}); got ${ArrayBuffer.isView(out) ? `a ${out.constructor.name} of ${(out as Float32Array).length} values` : shown(out)}`);
    }
  }
  const dst = out ?? freshOutput(to, n);
  coreAddon().dequantize(q.storedDtype as 'uint8' | 'uint16' | 'float16', raw.subarray(0, n * item), dst, q.scale ?? 1, q.min ?? 0);
  return dst;
}
