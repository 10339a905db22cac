/**
 * Tensor descriptions and the validated {@link WeightCatalog}.
 *
 * @module
 */
import { type DType, dtypeInfo, isDType, storageBytes } from './dtype.js';
import { WeightkitError, shown } from './errors.js';

/** Dequantization applied on access: `value = stored * scale + min`. */
export interface Quantization {
  /** The dtype the bytes are stored in (`uint8`, `uint16`, `float16`). */
  readonly storedDtype: DType;
  /** Multiplier (affine schemes only). */
  readonly scale?: number;
  /** Offset (affine schemes only). */
  readonly min?: number;
}

/** Where one tensor lives and what it is. */
export interface TensorInfo {
  /** The tensor's name in its file. */
  readonly name: string;
  /** The element type a reader gets (after dequantization, if any). */
  readonly dtype: DType;
  /** Dimensions; `[]` for a scalar. */
  readonly shape: readonly number[];
  /**
   * The exact dimensions, present only when one exceeds 2^53 - 1 (then
   * `shape` holds the nearest doubles). Only a tensor with zero elements can
   * have such a dimension (a 0 elsewhere in its shape).
   */
  readonly exactShape?: readonly bigint[];
  /** Strides in elements, when the tensor is not contiguous row-major. */
  readonly strides?: readonly number[];
  /** Offset in bytes of the first stored byte within its storage. */
  readonly byteOffset: number;
  /** Stored bytes (before dequantization). */
  readonly byteLength: number;
  /** Which storage the offsets refer to, when a model has several (e.g. TF.js weight groups). */
  readonly storage?: string;
  /** Present when the stored bytes are quantized and `dtype` is what they decode to. */
  readonly quantization?: Quantization;
}

/** How strictly {@link WeightCatalog} validates. */
export interface CatalogOptions {
  /** Byte size of each storage (key `''` for the default storage); entries must lie inside. */
  readonly bounds?: Readonly<Record<string, number>> | number;
  /** Allow entries whose byte ranges overlap (views of shared storage). Default false. */
  readonly allowOverlap?: boolean;

  /** Require byteLength to be exactly the packed size of numel elements (default true when no strides). */
  readonly exactSize?: boolean;
}

const MAX_U64 = (1n << 64n) - 1n;

/** Element count of a shape; throws WK_BAD_FORMAT for invalid dims or > 64-bit counts. */
export function numelOf(shape: readonly number[], what = 'tensor'): bigint {
  let n = 1n;
  for (const [i, d] of shape.entries()) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new WeightkitError('WK_BAD_FORMAT', `${what}: dimension ${shown(d)} is not a non-negative integer`);
    }
    n *= BigInt(d);
    if (n > MAX_U64) throw new WeightkitError('WK_BAD_FORMAT', `${what}: element count of its shape overflows 64 bits at dimension ${i} of ${shape.length}`);
  }
  return n;
}

function exactNumel(t: TensorInfo, what: string): bigint {
  const dims = t.exactShape!;
  if (dims.length !== t.shape.length || dims.some((d) => d < 0n)) throw new WeightkitError('WK_BAD_FORMAT', `${what}: exactShape does not match shape`);
  if (!dims.includes(0n)) throw new WeightkitError('WK_BAD_FORMAT', `${what}: a dimension above 2^53 - 1 is allowed only in a tensor with no elements`);
  return 0n;
}

/** Bytes a strided view spans: (sum (shape[i]-1)*stride[i]) + 1 elements, 0 when empty. */
function stridedExtent(shape: readonly number[], strides: readonly number[], what: string): bigint {
  if (strides.length !== shape.length) {
    throw new WeightkitError('WK_BAD_FORMAT', `${what}: ${strides.length} strides for ${shape.length} dimensions`);
  }
  if (shape.some((d) => d === 0)) return 0n;
  let last = 0n;
  for (let i = 0; i < shape.length; i++) {
    const s = strides[i]!;
    if (!Number.isSafeInteger(s) || s < 0) throw new WeightkitError('WK_BAD_FORMAT', `${what}: stride ${shown(s)} is not a non-negative integer`);
    last += BigInt(shape[i]! - 1) * BigInt(s);
    if (last > MAX_U64) throw new WeightkitError('WK_BAD_FORMAT', `${what}: strided extent overflows 64 bits`);
  }
  return last + 1n;
}

/** Validates one entry on its own; returns the bytes its elements need. */
export function validateTensorInfo(t: TensorInfo, exactSize = true): void {
  const what = `tensor '${t.name}'`;
  if (typeof t.name !== 'string') throw new WeightkitError('WK_BAD_FORMAT', 'a tensor has a name that is not a string');
  if (!isDType(t.dtype)) throw new WeightkitError('WK_UNSUPPORTED', `${what}: unknown dtype ${shown(t.dtype)}`);
  if (!Array.isArray(t.shape)) throw new WeightkitError('WK_BAD_FORMAT', `${what}: shape is not an array`);
  for (const [k, v] of [['byteOffset', t.byteOffset], ['byteLength', t.byteLength]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new WeightkitError('WK_BAD_FORMAT', `${what}: ${k} ${shown(v)} is not a non-negative safe integer`);
  }
  const storedDtype = t.quantization?.storedDtype ?? t.dtype;
  dtypeInfo(storedDtype);
  const numel = t.exactShape ? exactNumel(t, what) : numelOf(t.shape, what);
  const elements = t.strides ? stridedExtent(t.shape, t.strides, what) : numel;
  const need = storageBytes(storedDtype, elements);
  const have = BigInt(t.byteLength);
  if (t.strides || !exactSize ? have < need : have !== need) {
    throw new WeightkitError(
      'WK_BAD_FORMAT',
      `${what}: ${t.shape.length ? `shape [${t.shape.join(', ')}]` : 'scalar'} of ${storedDtype} needs ${need} bytes but ${have} are stored`,
    );
  }
}

/**
 * An ordered, validated set of {@link TensorInfo}: names unique, sizes
 * consistent with shape x dtype, ranges inside their storage and (unless
 * allowed) not overlapping. Construction throws a coded WeightkitError.
 */
export class WeightCatalog implements Iterable<TensorInfo> {
  #byName = new Map<string, TensorInfo>();

  constructor(entries: Iterable<TensorInfo>, options: CatalogOptions = {}) {
    const bounds = typeof options.bounds === 'number' ? { '': options.bounds } : options.bounds;
    for (const t of entries) {
      validateTensorInfo(t, options.exactSize ?? true);
      if (this.#byName.has(t.name)) throw new WeightkitError('WK_BAD_FORMAT', `tensor '${t.name}' appears twice`);
      const bound = bounds?.[t.storage ?? ''];
      if (bounds && bound === undefined) {
        throw new WeightkitError('WK_BAD_FORMAT', `tensor '${t.name}' refers to unknown storage '${t.storage ?? ''}'`);
      }
      if (bound !== undefined && t.byteOffset + t.byteLength > bound) {
        throw new WeightkitError(
          'WK_BAD_FORMAT',
          `tensor '${t.name}' bytes [${t.byteOffset}, ${t.byteOffset + t.byteLength}) lie outside its ${bound}-byte storage (truncated file?)`,
        );
      }
      this.#byName.set(t.name, Object.freeze({ ...t, shape: Object.freeze([...t.shape]), ...(t.exactShape ? { exactShape: Object.freeze([...t.exactShape]) } : {}) }));
    }
    if (!options.allowOverlap) this.#checkOverlap();
  }

  /**
   * A catalog over entries a format's reader has already validated with the
   * format's own, stricter rules, kept as they are (frozen by the caller).
   * @internal
   */
  static adopt(byName: Map<string, TensorInfo>): WeightCatalog {
    const c = new WeightCatalog([]);
    c.#byName = byName;
    return c;
  }

  #checkOverlap(): void {
    const byStorage = new Map<string, TensorInfo[]>();
    for (const t of this.#byName.values()) {
      if (t.byteLength === 0) continue;
      const list = byStorage.get(t.storage ?? '') ?? [];
      list.push(t);
      byStorage.set(t.storage ?? '', list);
    }
    for (const list of byStorage.values()) {
      list.sort((a, b) => a.byteOffset - b.byteOffset);
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1]!;
        const cur = list[i]!;
        if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
          throw new WeightkitError('WK_BAD_FORMAT', `tensors '${prev.name}' and '${cur.name}' overlap`);
        }
      }
    }
  }

  /** Number of tensors. */
  get size(): number {
    return this.#byName.size;
  }

  /** Sum of stored bytes of every tensor. */
  get totalBytes(): number {
    let n = 0;
    for (const t of this.#byName.values()) n += t.byteLength;
    return n;
  }

  /** Tensor names in catalog order. */
  names(): string[] {
    return [...this.#byName.keys()];
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The entry for `name`; throws WK_NOT_FOUND naming it. */
  get(name: string): TensorInfo {
    const t = this.#byName.get(name);
    if (!t) throw new WeightkitError('WK_NOT_FOUND', `no tensor named '${name}'`);
    return t;
  }

  [Symbol.iterator](): Iterator<TensorInfo> {
    return this.#byName.values();
  }

  toJSON(): TensorInfo[] {
    return [...this.#byName.values()];
  }
}
