/**
 * {@link ShardedMap}: a sharded checkpoint as one {@link NamedDataMap}: the
 * Hugging Face index (`model.safetensors.index.json` or
 * `pytorch_model.bin.index.json`, `{"weight_map": {tensor: shard file}}`) and
 * its shards, safetensors or PyTorch. Format: docs/formats/safetensors.md,
 * "Sharded checkpoints".
 *
 * Every shard's catalog is read and validated at open (one catalog across the
 * shards, each entry's `storage` naming its shard); a shard is opened (mapped)
 * on first use and closed with the map. Views are what the shard's own reader
 * serves: zero-copy where it is.
 * @module
 */
import { type TensorInfo, WeightCatalog } from './catalog.js';
import type { TypedArray } from './dtype.js';
import { WeightkitError, shown } from './errors.js';
import { readRegularSync } from './files.js';
import type { FileMappingOptions } from './mapping.js';
import { memberPath, namedFolderOf, realPathOf } from './model-paths.js';
import { CatalogMap, type FileRange, type NamedDataMap } from './named-data-map.js';
import { PyTorchMap, readPyTorchCatalogSync } from './pytorch.js';
import { SafetensorsMap, readSafetensorsHeaderSync } from './safetensors.js';

/** Largest index file read (the Hub's largest are a few MiB). */
export const SHARD_INDEX_MAX_BYTES = 64 * 1024 * 1024;

/** A parsed index: which shard holds each tensor, in the index's order. */
export interface ShardIndex {
  readonly weightMap: ReadonlyMap<string, string>;
  /** `metadata` of the index, string values only (`total_size` is a number there and is checked, not kept). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly totalSize?: number;
}

function bad(path: string, message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `shard index '${path}': ${message}`);
}

/** Parses index JSON text: `{"metadata"?: {...}, "weight_map": {"<tensor>": "<shard file>"}}`. */
export function parseShardIndex(text: string, path: string): ShardIndex {
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
  const names = map as Record<string, unknown>;
  // for-in, not Object.entries: no pair array per tensor (8,000-tensor indexes open in tens of ms).
  for (const name in names) {
    const shard = names[name];
    if (typeof shard !== 'string' || shard.length === 0) throw bad(path, `tensor ${shown(name)} maps to ${shown(shard)}, not a shard file name`);
    weightMap.set(name, shard);
  }
  const kept: Record<string, string> = {};
  let totalSize: number | undefined;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw bad(path, "'metadata' is not an object");
    for (const [k, v] of Object.entries(metadata as Record<string, unknown>)) {
      if (k === 'total_size') {
        if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) totalSize = v;
      } else if (typeof v === 'string') {
        kept[k] = v;
      }
    }
  }
  return { weightMap, metadata: kept, ...(totalSize !== undefined ? { totalSize } : {}) };
}

/** How the shards of one kind of checkpoint are read. */
interface ShardReader {
  readonly format: 'safetensors-sharded' | 'pytorch-sharded';
  /** The shard's catalog, read without mapping anything. */
  catalogOf(real: string): WeightCatalog;
  open(real: string, options: ShardedOpenOptions): NamedDataMap;
}

const READERS: Readonly<Record<'safetensors' | 'pytorch', ShardReader>> = {
  safetensors: { format: 'safetensors-sharded', catalogOf: (real) => readSafetensorsHeaderSync(real).catalog, open: (real, o) => SafetensorsMap.openSync(real, o) },
  pytorch: { format: 'pytorch-sharded', catalogOf: (real) => readPyTorchCatalogSync(real).catalog, open: (real, o) => PyTorchMap.openSync(real, o) },
};

/** Options for opening a sharded checkpoint (applied to every shard). */
export type ShardedOpenOptions = Pick<FileMappingOptions, 'populate' | 'advice'>;

interface Shard {
  /** The file name the index gives. */
  readonly name: string;
  /** Its real path (confined to the folder or the hub repository's blobs). */
  readonly real: string;
  /** Its catalog as read at open. */
  readonly catalog: WeightCatalog;
  map?: NamedDataMap;
}

let warnedUnlisted = false;

/** A sharded checkpoint as one {@link NamedDataMap}. */
export class ShardedMap extends CatalogMap {
  readonly format: 'safetensors-sharded' | 'pytorch-sharded';
  readonly path: string;
  readonly catalog: WeightCatalog;
  readonly metadata: Readonly<Record<string, string>>;
  readonly #shards: Map<string, Shard>;
  readonly #reader: ShardReader;
  readonly #options: ShardedOpenOptions;
  #closed = false;

  private constructor(path: string, reader: ShardReader, catalog: WeightCatalog, metadata: Record<string, string>, shards: Map<string, Shard>, options: ShardedOpenOptions) {
    super();
    this.format = reader.format;
    this.path = path;
    this.#reader = reader;
    this.catalog = catalog;
    this.metadata = metadata;
    this.#shards = shards;
    this.#options = options;
  }

  /** Reads the index and every shard's catalog (nothing is mapped until a tensor is read). */
  static async open(path: string, options: ShardedOpenOptions = {}): Promise<ShardedMap> {
    return ShardedMap.openSync(path, options);
  }

  /** Synchronous {@link ShardedMap.open}. */
  static openSync(path: string, options: ShardedOpenOptions = {}): ShardedMap {
    const real = realPathOf(path);
    const index = parseShardIndex(readRegularSync(real, SHARD_INDEX_MAX_BYTES, 'shard index').toString('utf8'), path);
    const folder = namedFolderOf(path, real);
    const files = new Set(index.weightMap.values());
    const kinds = new Set([...files].map((f) => (f.endsWith('.safetensors') ? 'safetensors' : 'pytorch')));
    if (kinds.size > 1) throw bad(path, 'mixes safetensors and PyTorch shards');
    const reader = READERS[[...kinds][0] === 'safetensors' || kinds.size === 0 ? 'safetensors' : 'pytorch'];
    const shards = new Map<string, Shard>();
    for (const name of files) {
      const real = memberPath(folder, name, `shard of '${path}'`);
      shards.set(name, { name, real, catalog: reader.catalogOf(real) });
    }
    const entries = new Map<string, TensorInfo>();
    let unlisted = 0;
    for (const shard of shards.values()) {
      for (const t of shard.catalog) {
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
    if (unlisted > 0 && !warnedUnlisted) {
      // transformers ignores them too; say so once per process.
      warnedUnlisted = true;
      process.emitWarning(`${unlisted} tensor(s) in the shards of '${path}' are not in its weight_map and are ignored, as transformers ignores them`, 'WeightkitWarning');
    }
    // Index order, as the file lists the tensors.
    const ordered = new Map<string, TensorInfo>();
    for (const n of index.weightMap.keys()) ordered.set(n, entries.get(n)!);
    return new ShardedMap(path, reader, WeightCatalog.adopt(ordered), { ...index.metadata }, shards, options);
  }

  /** The shard files, as the index names them, in the order it first names them. */
  get shards(): string[] {
    return [...this.#shards.keys()];
  }

  /** The open map of the shard holding `name` (opened on first use, checked against the catalog read at open). */
  #shardOf(name: string): NamedDataMap {
    if (this.#closed) throw new WeightkitError('WK_CLOSED', `the sharded map of '${this.path}' was closed; reopen it`);
    const t = this.catalog.get(name);
    const shard = this.#shards.get(t.storage!)!;
    if (!shard.map) {
      const map = this.#reader.open(shard.real, this.#options);
      for (const before of shard.catalog) {
        const now = map.catalog.has(before.name) ? map.info(before.name) : undefined;
        if (!now || now.byteOffset !== before.byteOffset || now.byteLength !== before.byteLength || now.dtype !== before.dtype) {
          map.close();
          throw new WeightkitError('WK_BAD_FORMAT', `shard '${shard.real}' changed since '${this.path}' was opened; open it again`);
        }
      }
      shard.map = map;
    }
    return shard.map;
  }



  bytes(name: string): Uint8Array {
    return this.#shardOf(name).bytes(name);
  }

  get(name: string): TypedArray {
    return this.#shardOf(name).get(name);
  }

  location(name: string): FileRange | undefined {
    return this.#shardOf(name).location?.(name);
  }

  /** How many shards are open now (they are opened on first use). */
  get mappedShards(): number {
    let n = 0;
    for (const s of this.#shards.values()) if (s.map) n++;
    return n;
  }

  get copiedBytes(): number {
    let n = 0;
    for (const s of this.#shards.values()) n += s.map?.copiedBytes ?? 0;
    return n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#shards.values()) {
      s.map?.close();
      s.map = undefined;
    }
  }
}
