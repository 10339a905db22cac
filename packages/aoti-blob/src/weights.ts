/**
 * {@link AotiWeights}: every constant of an AOTInductor model as a zero-copy
 * view of one read-only mapping of its payload, wherever the payload lives.
 * @module
 */
import {
  type Advice, FileMapping, type FileRange, type NamedDataMap, type TensorInfo, type TypedArray, WeightCatalog, WeightkitError, typedView,
} from '@weightkit/core';
import { type NativeLocation, type NativeLocateOptions, aotiAddon } from './binding.js';
import { type AotiConstant, toConstant } from './constants.js';

/** Options for {@link AotiWeights.open}. */
export interface AotiOpenOptions {
  /** The model to open when a package holds several (`data/aotinductor/<model>/`). */
  model?: string;
  /** Pre-fault every page of the payload while opening (`MAP_POPULATE`). */
  populate?: boolean;
  /** Read-ahead hint for the payload mapping. */
  advice?: Advice;
  /** USE_MMAP_SELF only: payload bytes + 8, when the .so's symbol cannot be read. */
  appendedSize?: bigint;
  /** USE_MMAP_SELF only: the trailing magic, with `appendedSize`. */
  appendedMagic?: bigint;
}

/** Where the payload was found. */
export interface AotiSource {
  /** `pt2`: inside a .pt2 zip; `folder`: an extracted model folder; `blob`: a `<key>.wrapper_weights.blob`; `so`: inside or appended to a `.so`. */
  readonly kind: 'pt2' | 'folder' | 'blob' | 'so';
  /** The file that is mapped. */
  readonly path: string;
  /** Where the payload starts in that file. */
  readonly offset: number;
  /** The file-name stem of the model's sources (`<key>.wrapper.cpp`). */
  readonly key: string;
  /** The model chosen in a package ('' outside packages). */
  readonly model: string;
  /** Every model the package holds. */
  readonly models: readonly string[];
}

function locateOptions(o: AotiOpenOptions): NativeLocateOptions {
  const out: NativeLocateOptions = {};
  if (o.model !== undefined) out.model = o.model;
  if (o.appendedSize !== undefined) out.appendedSize = o.appendedSize;
  if (o.appendedMagic !== undefined) out.appendedMagic = o.appendedMagic;
  return out;
}

function mapOptions(loc: NativeLocation, o: AotiOpenOptions) {
  return { offset: loc.payloadOffset, length: loc.payloadSize, populate: o.populate ?? false, ...(o.advice ? { advice: o.advice } : {}) };
}

/** A folder is swapped by its writer at most this many times during one open before the open gives up. */
const MAX_OPEN_ATTEMPTS = 5;

/**
 * True when the payload mapped is the file the location was validated
 * against. Otherwise the folder was replaced between the two (its writer
 * swapped it in): the mapping is dropped and the caller reads the folder again.
 */
function sameModel(loc: NativeLocation, mapping: FileMapping | undefined, path: string, attempt: number): boolean {
  if (!mapping || !loc.payloadFileId || mapping.fileId === loc.payloadFileId) return true;
  mapping.close();
  if (attempt < MAX_OPEN_ATTEMPTS) return false;
  throw new WeightkitError('WK_LOCKED', `'${path}' was replaced by a writer ${attempt} times while it was being opened; retry when the writing is done`);
}

function parseMetadata(text: string, where: string): Record<string, unknown> {
  if (text === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new WeightkitError('WK_BAD_FORMAT', `wrapper_metadata.json of '${where}' is not a JSON object`);
}

export class AotiWeights implements NamedDataMap {
  readonly format = 'aoti' as const;
  readonly path: string;
  readonly source: AotiSource;
  /** Every constant, folded ones included, in constants_info_ order. */
  readonly constants: readonly AotiConstant[];
  /** The payload's constants as a core catalog (folded constants excluded; offsets into the payload). */
  readonly catalog: WeightCatalog;
  /** `<key>.wrapper_metadata.json`, parsed ({} when absent). */
  readonly wrapperMetadata: Readonly<Record<string, unknown>>;
  /** The string fields of {@link AotiWeights.wrapperMetadata}. */
  readonly metadata: Readonly<Record<string, string>>;
  /** True when every entry's size is a multiple of 64 (AOTInductor pads unless every constant is on CUDA); false when tight. */
  readonly padded: boolean;
  readonly #byName = new Map<string, AotiConstant>();
  readonly #mapping: FileMapping | undefined;
  #closed = false;

  private constructor(path: string, loc: NativeLocation, mapping: FileMapping | undefined) {
    this.path = path;
    this.source = Object.freeze({
      kind: loc.kind, path: loc.payloadPath, offset: loc.payloadOffset, key: loc.key, model: loc.model, models: Object.freeze([...loc.models]),
    });
    this.constants = Object.freeze(loc.constants.map(toConstant));
    this.padded = loc.padded;
    this.wrapperMetadata = parseMetadata(loc.metadataJson, path);
    this.metadata = Object.fromEntries(Object.entries(this.wrapperMetadata).filter((e): e is [string, string] => typeof e[1] === 'string'));
    for (const c of this.constants) {
      this.#byName.set(c.name, c);
      if (!this.#byName.has(c.fqn)) this.#byName.set(c.fqn, c);
    }
    this.catalog = new WeightCatalog(
      this.constants.filter((c) => !c.fromFolded).map((c): TensorInfo => ({
        name: c.name, dtype: c.dtype, shape: c.shape, strides: c.stride, byteOffset: c.viewOffset, byteLength: c.viewBytes,
      })),
      // Sub-byte "shell" dtypes take a whole byte per element in torch storage: sizes are lower bounds.
      { bounds: loc.payloadSize, exactSize: false },
    );
    this.#mapping = mapping;
  }

  /**
   * Opens a .pt2, a model folder, a `<key>.wrapper_weights.blob` or a `.so`;
   * validation and mapping run off the JS thread. A folder that a writer
   * swaps while it is being opened is read again (the result is always one
   * whole model); WK_LOCKED if it keeps changing.
   */
  static async open(path: string, options: AotiOpenOptions = {}): Promise<AotiWeights> {
    for (let attempt = 1; ; attempt++) {
      const loc = await aotiAddon().locate(path, locateOptions(options));
      const mapping = loc.payloadSize > 0 ? await FileMapping.open(loc.payloadPath, mapOptions(loc, options)) : undefined;
      if (sameModel(loc, mapping, path, attempt)) return new AotiWeights(path, loc, mapping);
    }
  }

  /** Synchronous {@link AotiWeights.open}. */
  static openSync(path: string, options: AotiOpenOptions = {}): AotiWeights {
    for (let attempt = 1; ; attempt++) {
      const loc = aotiAddon().locateSync(path, locateOptions(options));
      const mapping = loc.payloadSize > 0 ? FileMapping.openSync(loc.payloadPath, mapOptions(loc, options)) : undefined;
      if (sameModel(loc, mapping, path, attempt)) return new AotiWeights(path, loc, mapping);
    }
  }

  /** Payload bytes: AOTInductorModelContainerGetConstantsBlobSize. */
  get blobSize(): number {
    return this.#mapping?.size ?? 0;
  }

  /** A constant by name or original FQN; WK_NOT_FOUND otherwise. */
  constant(nameOrFqn: string): AotiConstant {
    const c = this.#byName.get(nameOrFqn);
    if (!c) throw new WeightkitError('WK_NOT_FOUND', `no constant named '${nameOrFqn}' in '${this.path}'`);
    return c;
  }

  keys(): string[] {
    return this.catalog.names();
  }

  info(nameOrFqn: string): TensorInfo {
    return this.catalog.get(this.constant(nameOrFqn).name);
  }

  #live(): FileMapping | undefined {
    if (this.#closed) throw new WeightkitError('WK_CLOSED', 'the AOTI weights were closed; reopen them');
    return this.#mapping;
  }

  /** The bytes of a constant's elements (its strided extent), zero-copy. */
  bytes(nameOrFqn: string): Uint8Array {
    const c = this.constant(nameOrFqn);
    if (c.fromFolded) throw new WeightkitError('WK_NOT_FOUND', `constant '${c.name}' is folded at run time and has no bytes in the payload`);
    const m = this.#live();
    return m ? m.bytes(c.viewOffset, c.viewBytes) : new Uint8Array(0);
  }

  /**
   * A constant as a typed array of its dtype (Uint8Array where JS has none),
   * zero-copy. Its length is the strided extent, which equals numel for
   * contiguous tensors.
   */
  get(nameOrFqn: string): TypedArray {
    const c = this.constant(nameOrFqn);
    if (c.fromFolded) return this.bytes(nameOrFqn); // throws WK_NOT_FOUND
    const m = this.#live();
    return m ? m.typed(c.dtype, c.viewOffset, c.viewBytes) : typedView(c.dtype, new ArrayBuffer(0));
  }

  /** Where a contiguous constant's bytes are in the mapped file (undefined for strided or folded ones). */
  location(nameOrFqn: string): FileRange | undefined {
    const c = this.constant(nameOrFqn);
    const contiguous = c.stride.every((s, i) => s === c.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    if (c.fromFolded || !contiguous) return undefined;
    return { path: this.source.path, offset: this.source.offset + c.viewOffset, length: c.viewBytes };
  }

  /** The whole payload, zero-copy (what UpdateConstantsFromBlob would read). */
  payload(): Uint8Array {
    const m = this.#live();
    return m ? m.bytes() : new Uint8Array(0);
  }

  /**
   * `AOTInductorModelUpdateConstantsFromBlob` semantics without the copy:
   * every non-folded constant, by name, as a view of the payload.
   */
  constantsFromBlob(): Map<string, TypedArray> {
    return new Map(this.keys().map((n) => [n, this.get(n)]));
  }

  get copiedBytes(): number {
    return this.#mapping?.copiedBytes ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mapping?.close();
  }
  /** `using`: closes at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }


  [Symbol.iterator](): Iterator<TensorInfo> {
    return this.catalog[Symbol.iterator]();
  }
}
