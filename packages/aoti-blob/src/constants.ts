/**
 * AOTInductor constants: the catalog entries of `constants_info_`.
 * @module
 */
import { type DType, dtypeFromC10 } from '@weightkit/core';
import { aotiAddon } from './binding.js';

/** AOTInductor's ConstantType. */
export const CONSTANT_TYPES = ['Unknown', 'Parameter', 'Buffer', 'TensorConstant', 'FoldedConstant'] as const;
/** A ConstantType name. */
export type ConstantType = (typeof CONSTANT_TYPES)[number];

/** c10 DeviceType codes weightkit names. */
const DEVICES: Record<number, string> = { 0: 'cpu', 1: 'cuda', 6: 'hip', 12: 'xpu', 13: 'mps', 14: 'meta' };

/** One constant of an AOTInductor model. */
export interface AotiConstant {
  /** Position in constants_info_. */
  readonly index: number;
  /** The constant's name in the compiled model (e.g. `L__self___linear_weight`). */
  readonly name: string;
  /** The original fully-qualified name in the PyTorch module (e.g. `linear.weight`). */
  readonly fqn: string;
  readonly dtype: DType;
  /** c10 ScalarType code. */
  readonly dtypeCode: number;
  /** Device the model expects the constant on (`cpu`, `cuda`, ...). */
  readonly device: string;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  /** Storage offset in elements, as in constants_info_. */
  readonly offset: number;
  /** Bytes of the entry in the payload (padded). */
  readonly dataSize: number;
  /** True when the constant is produced by constant folding at run time (not in the payload). */
  readonly fromFolded: boolean;
  readonly type: ConstantType;
  /** First byte of the entry in the payload; `null` for folded constants. */
  readonly payloadOffset: number | null;
  /** First byte of the tensor's first element in the payload. */
  readonly viewOffset: number;
  /** Bytes spanned by the tensor's elements (its strided extent). */
  readonly viewBytes: number;
}

/** Converts the addon's record. */
export function toConstant(c: {
  index: number; name: string; fqn: string; dtype: number; deviceType: number; shape: number[]; stride: number[];
  offset: number; dataSize: number; fromFolded: boolean; type: number; payloadOffset?: number | null; viewOffset?: number; viewBytes?: number;
}): AotiConstant {
  return Object.freeze({
    index: c.index,
    name: c.name,
    fqn: c.fqn,
    dtype: dtypeFromC10(c.dtype).name,
    dtypeCode: c.dtype,
    device: DEVICES[c.deviceType] ?? `device${c.deviceType}`,
    shape: Object.freeze([...c.shape]),
    stride: Object.freeze([...c.stride]),
    offset: c.offset,
    dataSize: c.dataSize,
    fromFolded: c.fromFolded,
    type: CONSTANT_TYPES[c.type] ?? 'Unknown',
    payloadOffset: c.payloadOffset ?? null,
    viewOffset: c.viewOffset ?? 0,
    viewBytes: c.viewBytes ?? 0,
  });
}

/**
 * Parses the `constants_info_[i].field = value;` lines of an AOTInductor
 * `wrapper.cpp` (both codegen forms). Offsets in the payload are not computed
 * here; open the model with {@link AotiWeights.open} for those.
 */
export function parseConstantsInfo(text: string): AotiConstant[] {
  return aotiAddon().parseConstantsInfo(text).map(toConstant);
}
