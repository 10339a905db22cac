/**
 * {@link plan}: what a budget means for a schedule, without a device.
 * @module
 */
import { type NamedDataMap, WeightCatalog, WeightkitError } from '@weightkit/core';
import { expectNamedDataMap } from '@weightkit/core/internal';
import { offloadAddon } from './binding.js';
import type { ScheduleInput } from './types.js';
import { deviceBytes, scheduleIndices } from './weights.js';

const MiB = 1024 * 1024;

/** The `weightkit offload plan --json` document (public interface). */
export interface OffloadPlan {
  budgetBytes: number;
  /** The smallest budget that runs the schedule: the largest pair of consecutive steps plus the largest weight. */
  floorBytes: number;
  /** Every weight the schedule uses, once. */
  totalBytes: number;
  /** No policy can move fewer bytes per pass in steady state: total - budget. */
  lowerBoundBytesPerPass: number;
  /** What next-use eviction moves per pass in steady state (null below the floor). */
  plannedBytesPerPass: number | null;
}

/** Plans a budget for a catalog (or a map's catalog) and schedule. */
export function plan(weights: WeightCatalog | NamedDataMap, schedule: ScheduleInput | undefined, budgetMb: number): OffloadPlan {
  if (!Number.isFinite(budgetMb) || budgetMb < 0) throw new WeightkitError('WK_BAD_ARGUMENT', `budgetMb must be a non-negative number, got ${budgetMb}`);
  const catalog = weights instanceof WeightCatalog ? weights : expectNamedDataMap(weights, 'plan(weights)').catalog;
  const list = [...catalog].filter((t) => t.byteLength > 0).map((t) => ({ name: t.name, bytes: deviceBytes(t) }));
  const p = offloadAddon().plan(list, scheduleIndices(schedule, list.map((w) => w.name)), Math.floor(budgetMb * MiB));
  return {
    budgetBytes: p.budgetBytes, floorBytes: p.floorBytes, totalBytes: p.totalBytes,
    lowerBoundBytesPerPass: p.lowerBoundBytesPerPass, plannedBytesPerPass: p.plannedBytesPerPass,
  };
}

/** Bytes next-use (or LRU) eviction moves in each of `passes` passes, without a device or prefetch. */
export function simulateEviction(sizes: readonly number[], budgetBytes: number, policy: 'next-use' | 'lru', passes: number): number[] {
  return offloadAddon().simulate(sizes.map((bytes, i) => ({ name: `w${i}`, bytes })), undefined, budgetBytes, policy, passes);
}
