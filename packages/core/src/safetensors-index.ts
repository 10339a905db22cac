/**
 * {@link ShardedSafetensorsMap}: a sharded safetensors checkpoint
 * (`model.safetensors.index.json` and `model-00001-of-0000N.safetensors` ...)
 * as one {@link NamedDataMap}. Format: docs/formats/safetensors.md, "Sharded
 * checkpoints".
 *
 * Every shard's header is read and validated at open (one catalog across the
 * shards, each entry's `storage` naming its shard); a shard's data is mapped
 * on first use and unmapped with the map. Views are zero-copy as with one file.
 * @module
 */
import { type TensorInfo, WeightCatalog } from './catalog.js';
import type { TypedArray } from './dtype.js';
import { WeightkitError, shown } from './errors.js';
import { readRegularSync } from './files.js';
import { FileMapping } from './mapping.js';
import { memberPath, namedFolderOf, realPathOf } from './model-paths.js';
import type { FileRange, NamedDataMap } from './named-data-map.js';
import { type SafetensorsHeader, readSafetensorsHeaderSync, type SafetensorsOpenOptions } from './safetensors.js';

/** Largest index file read (the Hub's largest are a few MiB). */
export const SAFETENSORS_INDEX_MAX_BYTES = 64 * 1024 * 1024;

/** A parsed index: which shard holds each tensor, in the index's order. */
export interface SafetensorsIndex {
  readonly weightMap: ReadonlyMap<string, string>;
  /** `metadata` of the index, string values only (`total_size` is a number there and is checked, not kept). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly totalSize?: number;
}

function bad(path: string, message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `safetensors index '${path}': ${message}`);
}

/** Parses index JSON text: `{"metadata"?: {...}, "weight_map": {"<tensor>": "<shard file>"}}`. */
export function parseSafetensorsIndex(text: string, path: string): SafetensorsIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(path, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(path, 'not a JSON object');
  const { weight_map: map, metadata } = json as Record<string, unknown>;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw bad(path, "has no 'weight_map' object");
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.length === 0) throw bad(path, `tensor ${shown(name)} maps to ${shown(shard)}, not a shard file name`);
    weightMap.set(name, shard);
  }
  const kept: Record<string, string> = {};
  let totalSize: number | undefined;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw bad(path, "'metadata' is not an object");
    for (const [k, v] of Object.entries(metadata as Record<string, unknown>)) {
      if (k === 'total_size') {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(path, `metadata.total_size ${shown(v)} is not a byte count`);
        totalSize = v;
      } else if (typeof v === 'string') {
        kept[k] = v;
      }
    }
  }
  return { weightMap, metadata: kept, ...(totalSize !== undefined ? { totalSize } : {}) };
}

interface Shard {
  /** The file name the index gives. */
  readonly name: string;
  /** Its real path (confined to the folder or the hub repository's blobs). */
  readonly real: string;
  readonly header: SafetensorsHeader;
  mapping?: FileMapping;
}

let warnedUnlisted = false;

/** A sharded safetensors checkpoint as one zero-copy {@link NamedDataMap}. */
export class ShardedSafetensorsMap implements NamedDataMap {
  readonly format = 'safetensors-sharded' as const;
  readonly path: string;
  readonly catalog: WeightCatalog;
  readonly metadata: Readonly<Record<string, string>>;
  readonly #shards: Map<string, Shard>;
  readonly #options: SafetensorsOpenOptions;
  #closed = false;

  private constructor(path: string, catalog: WeightCatalog, metadata: Record<string, string>, shards: Map<string, Shard>, options: SafetensorsOpenOptions) {
    this.path = path;
    this.catalog = catalog;
    this.metadata = metadata;
    this.#shards = shards;
    this.#options = options;
  }

  /** Reads the index and every shard's header (nothing is mapped until a tensor is read). */
  static async open(path: string, options: SafetensorsOpenOptions = {}): Promise<ShardedSafetensorsMap> {
    return ShardedSafetensorsMap.openSync(path, options);
  }

  /** Synchronous {@link ShardedSafetensorsMap.open}. */
  static openSync(path: string, options: SafetensorsOpenOptions = {}): ShardedSafetensorsMap {
    const index = parseSafetensorsIndex(readRegularSync(realPathOf(path), SAFETENSORS_INDEX_MAX_BYTES, 'safetensors index').toString('utf8'), path);
    const folder = namedFolderOf(path);
    const shards = new Map<string, Shard>();
    for (const name of new Set(index.weightMap.values())) {
      const real = memberPath(folder, name, `shard of '${path}'`);
      shards.set(name, { name, real, header: readSafetensorsHeaderSync(real) });
    }
    const entries = new Map<string, TensorInfo>();
    let total = 0;
    let unlisted = 0;
    for (const shard of shards.values()) {
      total += shard.header.dataLength;
      for (const t of shard.header.catalog) {
        const listed = index.weightMap.get(t.name);
        if (listed === undefined) {
          unlisted++;
          continue;
        }
        if (listed !== shard.name) {
          throw new WeightkitError('WK_BAD_FORMAT',
            `tensor '${t.name}' is in shard '${shard.real}' but the index '${path}' places it in '${listed}' (a tensor in two shards?)`);
        }
        entries.set(t.name, Object.freeze({ ...t, storage: shard.name }));
      }
    }
    for (const [name, shard] of index.weightMap) {
      if (!entries.has(name)) throw new WeightkitError('WK_BAD_FORMAT', `the index '${path}' places tensor '${name}' in '${shard}', which does not hold it`);
    }
    if (index.totalSize !== undefined && index.totalSize > total) {
      throw new WeightkitError('WK_BAD_FORMAT', `the index '${path}' says the tensors take ${index.totalSize} bytes, its shards hold ${total}`);
    }
    if (unlisted > 0 && !warnedUnlisted) {
      // transformers ignores them too; say so once per process.
      warnedUnlisted = true;
      process.emitWarning(`${unlisted} tensor(s) in the shards of '${path}' are not in its weight_map and are ignored, as transformers ignores them`, 'WeightkitWarning');
    }
    // Index order, as the file lists the tensors.
    const ordered = new Map([...index.weightMap.keys()].map((n) => [n, entries.get(n)!]));
    return new ShardedSafetensorsMap(path, WeightCatalog.adopt(ordered), { ...index.metadata }, shards, options);
  }

  /** The shard files, as the index names them, in the order it first names them. */
  get shards(): string[] {
    return [...this.#shards.keys()];
  }

  #mapped(t: TensorInfo): { shard: Shard; mapping: FileMapping } {
    if (this.#closed) throw new WeightkitError('WK_CLOSED', `the sharded safetensors map of '${this.path}' was closed; reopen it`);
    const shard = this.#shards.get(t.storage!)!;
    shard.mapping ??= FileMapping.openSync(shard.real, { ...this.#options, offset: shard.header.dataOffset, length: shard.header.dataLength });
    return { shard, mapping: shard.mapping };
  }

  keys(): string[] {
    return this.catalog.names();
  }

  info(name: string): TensorInfo {
    return this.catalog.get(name);
  }

  bytes(name: string): Uint8Array {
    const t = this.catalog.get(name);
    return this.#mapped(t).mapping.bytes(t.byteOffset, t.byteLength);
  }

  get(name: string): TypedArray {
    const t = this.catalog.get(name);
    return this.#mapped(t).mapping.typed(t.dtype, t.byteOffset, t.byteLength);
  }

  location(name: string): FileRange {
    const t = this.catalog.get(name);
    const { shard, mapping } = this.#mapped(t);
    return { path: shard.real, offset: shard.header.dataOffset + t.byteOffset, length: t.byteLength, fileId: mapping.fileId! };
  }

  /** How many shards are mapped now (they are mapped on first use). */
  get mappedShards(): number {
    let n = 0;
    for (const s of this.#shards.values()) if (s.mapping) n++;
    return n;
  }

  get copiedBytes(): number {
    let n = 0;
    for (const s of this.#shards.values()) n += s.mapping?.copiedBytes ?? 0;
    return n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#shards.values()) {
      s.mapping?.close();
      s.mapping = undefined;
    }
  }

  /** `using`: closes at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.iterator](): Iterator<TensorInfo> {
    return this.catalog[Symbol.iterator]();
  }
}
