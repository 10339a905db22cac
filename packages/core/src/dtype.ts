/**
 * Element types: canonical names, PyTorch c10 `ScalarType` codes, bits per
 * element (sub-byte types included) and the names other formats use.
 *
 * @module
 */
import { WeightkitError } from './errors.js';

/** What weightkit knows about one element type. */
export interface DTypeInfo {
  /** Canonical name, as PyTorch spells it (`float32`, `bfloat16`, `uint4`...). */
  readonly name: DType;
  /** c10 `ScalarType` code, or `null` where PyTorch has none. */
  readonly c10: number | null;
  /** Bits of storage per element as laid out in files (4 for `uint4`). */
  readonly bits: number;
  /**
   * Bytes per element in a torch storage (`elementSize`); sub-byte "shell"
   * types (uint1..7, int1..7) occupy one byte there.
   */
  readonly torchItemSize: number;
}

/** The raw dtype table: `[name, c10 code or null, bits per element]`, in c10 order. */
export const DTYPE_TABLE = [
  ['uint8', 0, 8], ['int8', 1, 8], ['int16', 2, 16], ['int32', 3, 32], ['int64', 4, 64],
  ['float16', 5, 16], ['float32', 6, 32], ['float64', 7, 64], ['complex32', 8, 32],
  ['complex64', 9, 64], ['complex128', 10, 128], ['bool', 11, 8], ['qint8', 12, 8],
  ['quint8', 13, 8], ['qint32', 14, 32], ['bfloat16', 15, 16], ['quint4x2', 16, 8],
  ['quint2x4', 17, 8], ['bits1x8', 18, 8], ['bits2x4', 19, 8], ['bits4x2', 20, 8],
  ['bits8', 21, 8], ['bits16', 22, 16], ['float8_e5m2', 23, 8], ['float8_e4m3fn', 24, 8],
  ['float8_e5m2fnuz', 25, 8], ['float8_e4m3fnuz', 26, 8], ['uint16', 27, 16], ['uint32', 28, 32],
  ['uint64', 29, 64], ['uint1', 30, 1], ['uint2', 31, 2], ['uint3', 32, 3], ['uint4', 33, 4],
  ['uint5', 34, 5], ['uint6', 35, 6], ['uint7', 36, 7], ['int1', 37, 1], ['int2', 38, 2],
  ['int3', 39, 3], ['int4', 40, 4], ['int5', 41, 5], ['int6', 42, 6], ['int7', 43, 7],
  ['float8_e8m0fnu', 44, 8], ['float4_e2m1fn_x2', 45, 8],
  // safetensors' sub-byte floats, one value per element (no c10 codes of their own).
  ['float4_e2m1', null, 4], ['float6_e2m3', null, 6], ['float6_e3m2', null, 6],
] as const;

/** Canonical element-type names. */
export type DType = (typeof DTYPE_TABLE)[number][0];

const BY_NAME = new Map<string, DTypeInfo>();
const BY_C10 = new Map<number, DTypeInfo>();
for (const [name, c10, bits] of DTYPE_TABLE) {
  const info: DTypeInfo = Object.freeze({ name, c10, bits, torchItemSize: Math.max(1, bits / 8) });
  BY_NAME.set(name, info);
  if (c10 !== null) BY_C10.set(c10, info);
}

/** Every dtype weightkit knows, in c10 code order. */
export const DTYPES: readonly DTypeInfo[] = Object.freeze([...BY_NAME.values()]);

/** safetensors dtype strings -> canonical names. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  BOOL: 'bool', U8: 'uint8', I8: 'int8', I16: 'int16', U16: 'uint16', F16: 'float16',
  BF16: 'bfloat16', I32: 'int32', U32: 'uint32', F32: 'float32', F64: 'float64', I64: 'int64',
  U64: 'uint64', C64: 'complex64', F8_E5M2: 'float8_e5m2', F8_E4M3: 'float8_e4m3fn',
  F8_E8M0: 'float8_e8m0fnu', F8_E4M3FNUZ: 'float8_e4m3fnuz', F8_E5M2FNUZ: 'float8_e5m2fnuz',
  F4: 'float4_e2m1', F6_E2M3: 'float6_e2m3', F6_E3M2: 'float6_e3m2',
});

/** TensorFlow.js dtype strings (weights and quantization) -> canonical names. */
export const TFJS_DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  float32: 'float32', int32: 'int32', bool: 'bool', complex64: 'complex64',
  uint8: 'uint8', uint16: 'uint16', float16: 'float16', int8: 'int8', int16: 'int16',
});

/** True when `name` is a canonical dtype name. */
export function isDType(name: string): name is DType {
  return BY_NAME.has(name);
}

/** Looks a dtype up by canonical name; throws WK_UNSUPPORTED for unknown names. */
export function dtypeInfo(name: string): DTypeInfo {
  const info = BY_NAME.get(name);
  if (!info) throw new WeightkitError('WK_UNSUPPORTED', `unknown dtype '${name}'`);
  return info;
}

/** Looks a dtype up by its c10 `ScalarType` code; throws WK_UNSUPPORTED when unknown. */
export function dtypeFromC10(code: number): DTypeInfo {
  const info = BY_C10.get(code);
  if (!info) throw new WeightkitError('WK_UNSUPPORTED', `unknown c10 ScalarType code ${code}`);
  return info;
}

/** safetensors dtype string -> dtype; throws WK_UNSUPPORTED naming the dtype. */
export function dtypeFromSafetensors(name: string): DTypeInfo {
  const d = SAFETENSORS_DTYPES[name];
  if (!d) {
    throw new WeightkitError('WK_UNSUPPORTED', `safetensors dtype '${name}' is not supported (known: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`);
  }
  return dtypeInfo(d);
}

/** The safetensors name of a dtype, or undefined when safetensors has none. */
export function safetensorsName(dtype: DType): string | undefined {
  return Object.keys(SAFETENSORS_DTYPES).find((k) => SAFETENSORS_DTYPES[k] === dtype);
}

/** TF.js dtype string -> dtype; throws WK_UNSUPPORTED naming the dtype. */
export function dtypeFromTfjs(name: string): DTypeInfo {
  const d = TFJS_DTYPES[name];
  if (!d) throw new WeightkitError('WK_UNSUPPORTED', `TensorFlow.js dtype '${name}' is not supported (known: ${Object.keys(TFJS_DTYPES).join(', ')})`);
  return dtypeInfo(d);
}

/**
 * Bytes needed for `numel` elements of `dtype`, packed (sub-byte types round
 * up to whole bytes). Exact for any count via bigint.
 */
export function storageBytes(dtype: DType, numel: bigint): bigint {
  const bits = BigInt(dtypeInfo(dtype).bits);
  return (numel * bits + 7n) / 8n;
}

/** Typed array constructors for dtypes JavaScript has a typed array for. */
const TYPED_ARRAYS: Partial<Record<DType, new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView>> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

/** The element-typed array JS uses for a dtype. */
export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/**
 * A view of `byteLength` bytes at `byteOffset` of `buffer` typed by `dtype`
 * where JavaScript has such an array (float32 -> Float32Array ...), else a
 * Uint8Array of the raw bytes (float16, bfloat16, sub-byte types...).
 * Falls back to Uint8Array too when the offset is not element-aligned.
 */
export function typedView(dtype: DType, buffer: ArrayBufferLike, byteOffset = 0, byteLength = buffer.byteLength - byteOffset): TypedArray {
  const Ctor = TYPED_ARRAYS[dtype];
  const size = dtypeInfo(dtype).bits / 8;
  if (Ctor && byteOffset % size === 0 && byteLength % size === 0) {
    return new Ctor(buffer, byteOffset, byteLength / size) as TypedArray;
  }
  return new Uint8Array(buffer, byteOffset, byteLength);
}
