/**
 * What a budget means, in one place for {@link plan} and
 * {@link OffloadRuntime.create}: MiB (2^20 bytes) of device memory for
 * weights, where 0 means no offload (every weight resident, as
 * `cuda.weight_offload_budget_mb`'s default says). The limits themselves are
 * the native core's (weightkit/offload/limits.hpp), read from the addon.
 * @module
 */
import { WeightkitError } from '@weightkit/core';
import { shown } from '@weightkit/core/internal';
import { offloadAddon } from './binding.js';
import type { OffloadLimits } from './types.js';

export const MiB = 1024 * 1024;

/** The native core's limits (loads the addon on first use). */
export function offloadLimits(): OffloadLimits {
  return offloadAddon().limits;
}

/** `value` when it is a number in [0, max]; WK_BAD_ARGUMENT naming `what` otherwise. */
export function inRange(value: unknown, what: string, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `${what} must be a number from 0 to ${max}, got ${shown(value)}`);
  }
  return value;
}

/** The budget in bytes for `budgetMb` (checked; 0: `totalBytes`, no offload). */
export function budgetBytesOf(budgetMb: unknown, totalBytes: number): number {
  const mb = inRange(budgetMb, 'budgetMb', offloadLimits().maxBytes / MiB);
  return mb === 0 ? totalBytes : Math.max(1, Math.floor(mb * MiB));
}
