/**
 * From a NamedDataMap to what the runtime streams: device sizes, where each
 * weight's host bytes are, and schedules by name.
 * @module
 */
import { type NamedDataMap, type TensorInfo, WeightkitError, dtypeInfo } from '@weightkit/core';
import { expectArray, expectNamedDataMap, shown } from '@weightkit/core/internal';
import type { OffloadWeight, ScheduleInput } from './types.js';

/** Bytes a tensor takes on the device: what `get()` returns (quantized tensors decoded). */
export function deviceBytes(t: TensorInfo): number {
  if (!t.quantization) return t.byteLength;
  return t.shape.reduce((a, b) => a * b, 1) * (dtypeInfo(t.dtype).bits / 8);
}

/** Weights and schedule indices from a map. */
export function weightsOf(map: NamedDataMap): { weights: OffloadWeight[]; names: string[] } {
  expectNamedDataMap(map, 'the weights');
  const weights: OffloadWeight[] = [];
  for (const t of map.catalog) {
    if (t.byteLength === 0) continue;
    const loc = map.location?.(t.name);
    if (loc) {
      weights.push({ name: t.name, bytes: loc.length, path: loc.path, offset: loc.offset, length: loc.length, ...(loc.fileId ? { fileId: loc.fileId } : {}) });
    } else {
      const v = map.get(t.name);
      weights.push({ name: t.name, bytes: v.byteLength, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    }
  }
  return { weights, names: weights.map((w) => w.name) };
}

/** Catalog indices of the pinned weights; WK_BAD_ARGUMENT names an unknown weight or one named twice. */
export function pinnedIndices(pinned: readonly string[] | undefined, names: readonly string[]): number[] | undefined {
  if (pinned === undefined) return undefined;
  const indices = scheduleIndices(pinned, names)!.flat();
  const seen = new Set<number>();
  for (const i of indices) {
    if (seen.has(i)) throw new WeightkitError('WK_BAD_ARGUMENT', `pinned names '${names[i]}' more than once`);
    seen.add(i);
  }
  return indices;
}

/** Resolves names to catalog indices; WK_BAD_ARGUMENT names an unknown weight. */
export function scheduleIndices(schedule: ScheduleInput | undefined, names: readonly string[]): number[][] | undefined {
  if (schedule === undefined) return undefined;
  expectArray(schedule, 'the schedule');
  const index = new Map(names.map((n, i) => [n, i]));
  const resolve = (x: unknown): number => {
    if (typeof x === 'number') {
      if (!Number.isInteger(x) || x < 0 || x >= names.length) throw new WeightkitError('WK_BAD_ARGUMENT', `schedule index ${shown(x)} is not a weight (0..${names.length - 1})`);
      return x;
    }
    const i = typeof x === 'string' ? index.get(x) : undefined;
    if (i === undefined) throw new WeightkitError('WK_BAD_ARGUMENT', `schedule names ${shown(x)}, which is not a weight of the model (a name or a catalog index)`);
    return i;
  };
  return schedule.map((step) => (Array.isArray(step) ? (step as unknown[]).map(resolve) : [resolve(step)]));
}
