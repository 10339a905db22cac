/**
 * Checks of the arguments public functions receive from JavaScript, where a
 * type annotation guarantees nothing: a wrong value is WK_BAD_ARGUMENT
 * naming it, never a TypeError from deep inside.
 * @module
 */
import { WeightCatalog } from './catalog.js';
import { WeightkitError } from './errors.js';
import type { NamedDataMap } from './named-data-map.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object of another kind' : `${typeof value} ${String(value).slice(0, 40)}`;
}

/** `value` when it is a plain object (options); WK_BAD_ARGUMENT naming `what` otherwise. */
export function expectObject<T extends object>(value: T | null | undefined, what: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `${what} must be an object, got ${describe(value)}`);
  }
  return value;
}

/** `value` when it is an array; WK_BAD_ARGUMENT naming `what` otherwise. */
export function expectArray<T>(value: readonly T[] | null | undefined, what: string): readonly T[] {
  if (!Array.isArray(value)) throw new WeightkitError('WK_BAD_ARGUMENT', `${what} must be an array, got ${describe(value)}`);
  return value;
}

/** `value` when it is an open NamedDataMap (WK_CLOSED when closed); WK_BAD_ARGUMENT otherwise. */
export function expectNamedDataMap(value: NamedDataMap | null | undefined, what: string): NamedDataMap {
  const m = value as Partial<NamedDataMap> | null | undefined;
  if (typeof m !== 'object' || m === null || !(m.catalog instanceof WeightCatalog) || typeof m.get !== 'function' || typeof m.bytes !== 'function') {
    throw new WeightkitError('WK_BAD_ARGUMENT', `${what} must be a NamedDataMap (openNamedDataMap's result), got ${describe(value)}`);
  }
  if (m.closed) throw new WeightkitError('WK_CLOSED', `${what} was closed; reopen it`);
  return m as NamedDataMap;
}
