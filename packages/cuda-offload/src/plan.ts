/**
 * {@link plan}: what a budget means for a schedule, without a device;
 * {@link scheduleFacts}: what the schedule asks of any budget.
 * @module
 */
import { type NamedDataMap, WeightCatalog } from '@weightkit/core';
import { expectNamedDataMap } from '@weightkit/core/internal';
import { type NativePlan, offloadAddon } from './binding.js';
import { budgetBytesOf } from './budget.js';
import type { ScheduleInput } from './types.js';
import { deviceBytes, scheduleIndices } from './weights.js';

/** What a schedule asks of any budget (`offload plan` without one; `scheduleFacts`). */
export interface ScheduleFacts {
  /** Every weight the schedule uses, once: the budget at which nothing moves. */
  totalBytes: number;
  /** The smallest budget that runs the schedule: the largest pair of consecutive steps plus the largest weight. */
  floorBytes: number;
  /** The most bytes two consecutive steps (cyclically) hold at once. */
  largestPairBytes: number;
  largestWeightBytes: number;
}

/** The `weightkit offload plan --json` document (public interface). */
export interface OffloadPlan extends ScheduleFacts {
  /** The budget planned for, bytes (budgetMb 0: totalBytes, no offload). */
  budgetBytes: number;
  /** No policy can move fewer bytes per pass in steady state: total - budget. */
  lowerBoundBytesPerPass: number;
  /** What next-use eviction moves per pass in steady state (null below the floor). */
  plannedBytesPerPass: number | null;
}

function nativeInputs(weights: WeightCatalog | NamedDataMap, schedule: ScheduleInput | undefined, what: string) {
  const catalog = weights instanceof WeightCatalog ? weights : expectNamedDataMap(weights, `${what}(weights)`).catalog;
  const list = [...catalog].filter((t) => t.byteLength > 0).map((t) => ({ name: t.name, bytes: deviceBytes(t) }));
  return { list, schedule: scheduleIndices(schedule, list.map((w) => w.name)) };
}

function factsOf(p: NativePlan): ScheduleFacts {
  return { totalBytes: p.totalBytes, floorBytes: p.floorBytes, largestPairBytes: p.largestPairBytes, largestWeightBytes: p.largestWeightBytes };
}

/** What a schedule (default: catalog order) asks of any budget: its total, its floor, its largest in-flight pair. */
export function scheduleFacts(weights: WeightCatalog | NamedDataMap, schedule?: ScheduleInput): ScheduleFacts {
  const { list, schedule: indices } = nativeInputs(weights, schedule, 'scheduleFacts');
  return factsOf(offloadAddon().plan(list, indices));
}

/**
 * What a budget of `budgetMb` MiB means for a catalog (or a map's catalog)
 * and schedule, without a device. 0 means no offload, as it does for
 * {@link OffloadRuntime.create}: the budget is every weight.
 */
export function plan(weights: WeightCatalog | NamedDataMap, schedule: ScheduleInput | undefined, budgetMb: number): OffloadPlan {
  const { list, schedule: indices } = nativeInputs(weights, schedule, 'plan');
  const budget = budgetBytesOf(budgetMb, list.reduce((a, w) => a + w.bytes, 0));
  const p = offloadAddon().plan(list, indices, budget);
  return { ...factsOf(p), budgetBytes: p.budgetBytes!, lowerBoundBytesPerPass: p.lowerBoundBytesPerPass!, plannedBytesPerPass: p.plannedBytesPerPass ?? null };
}

/** Bytes next-use (or LRU) eviction moves in each of `passes` passes, without a device or prefetch. */
export function simulateEviction(sizes: readonly number[], budgetBytes: number, policy: 'next-use' | 'lru', passes: number): number[] {
  return offloadAddon().simulate(sizes.map((bytes, i) => ({ name: `w${i}`, bytes })), undefined, budgetBytes, policy, passes);
}
