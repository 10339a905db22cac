/**
 * The {@link NamedDataMap} contract: weights by name, as zero-copy views.
 *
 * @module
 */
import type { WeightCatalog, TensorInfo } from './catalog.js';
import type { TypedArray } from './dtype.js';


/** Where a tensor's stored bytes are in a file. */
export interface FileRange {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  /**
   * The file as the map opened it (`FileMapping.fileId`); whoever opens
   * `path` again must refuse a file that no longer matches it.
   */
  readonly fileId?: string;
}

/** A file format weightkit can read. */
/** The formats weightkit's own readers produce; a registered reader may report another name. */
export type WeightFormat = 'safetensors' | 'tfjs' | 'aoti' | (string & {});

/**
 * Read access to the named tensors of a model.
 *
 * `get(name)` returns a view of the bytes in place (zero-copy) whenever the
 * file stores the tensor contiguously and unquantized; such views stay valid
 * until {@link NamedDataMap.close}, after which they are detached (length 0).
 * Quantized TF.js tensors and tensors split across shards are decoded into a
 * new array instead (see {@link NamedDataMap.copiedBytes}).
 */
export interface NamedDataMap extends Iterable<TensorInfo> {
  /** Which format the map was read from. */
  readonly format: WeightFormat;
  /** The path it was opened from. */
  readonly path: string;
  /** The validated catalog of every tensor. */
  readonly catalog: WeightCatalog;
  /** Free-form string metadata stored with the weights (safetensors `__metadata__`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in file order. */
  keys(): string[];
  /** The description of one tensor; WK_NOT_FOUND when absent. */
  info(name: string): TensorInfo;
  /** The tensor's elements, typed by its dtype where JS has an array type (else raw bytes). */
  get(name: string): TypedArray;
  /** The tensor's stored bytes, zero-copy where possible. */
  bytes(name: string): Uint8Array;
  /**
   * Where the tensor's bytes lie in a file, when they lie there contiguously
   * and unencoded (so native code can map them itself); undefined otherwise.
   */
  location?(name: string): FileRange | undefined;
  /** Bytes that had to be copied or decoded so far (0 for a pure zero-copy map). */
  readonly copiedBytes: number;
  /** Releases the mappings and detaches every view handed out. Idempotent. */
  close(): void;
  readonly closed: boolean;
  /** `using map = await openNamedDataMap(...)`: closes at the end of the scope. */
  [Symbol.dispose](): void;
}

/**
 * What every reader's map shares: names and descriptions from its catalog,
 * `using`, and iteration over the catalog. A reader adds its views and its
 * lifetime (`get`, `bytes`, `close`, ...).
 * @internal
 */
export abstract class CatalogMap implements NamedDataMap {
  abstract readonly format: WeightFormat;
  abstract readonly path: string;
  abstract readonly catalog: WeightCatalog;
  abstract readonly metadata: Readonly<Record<string, string>>;
  abstract readonly copiedBytes: number;
  abstract readonly closed: boolean;
  abstract get(name: string): TypedArray;
  abstract bytes(name: string): Uint8Array;
  abstract close(): void;

  keys(): string[] {
    return this.catalog.names();
  }

  info(name: string): TensorInfo {
    return this.catalog.get(name);
  }

  /** `using`: closes at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.iterator](): Iterator<TensorInfo> {
    return this.catalog[Symbol.iterator]();
  }
}
