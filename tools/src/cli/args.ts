/**
 * Argument parsing shared by every command: node's parseArgs, strict, with
 * usage errors (exit 2) kept apart from refused input (exit 1).
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WeightkitError } from '@weightkit/core';
import { closest } from '@weightkit/core/internal';

/** A command line that does not match the command's usage: exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags: booleans for boolean options, strings for the rest. */
export type Parsed<O extends Options> = {
  values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
  positionals: string[];
};

/** `Did you mean ...?` for a mistyped word, or ''. */
export function suggestion(word: string, candidates: readonly string[]): string {
  const near = closest(word, candidates);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** Parses `argv` against `options`; throws UsageError with `usage` on any mismatch, suggesting the option meant. */
export function parse<O extends Options>(argv: string[], options: O, usage: string): Parsed<O> {
  const all = { ...options, help: { type: 'boolean', short: 'h' } } as const;
  try {
    const r = parseArgs({ args: argv, options: all, allowPositionals: true, strict: true });
    return r as unknown as Parsed<O>;
  } catch (e) {
    const message = (e as Error).message;
    const unknown = /Unknown option '(--?[^']+)'/.exec(message)?.[1];
    const hint = unknown?.startsWith('--') ? suggestion(unknown, Object.keys(all).map((k) => `--${k}`)) : '';
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/s, '') + hint, usage);
  }
}

/** Exactly `n` positionals or a UsageError. */
export function positionals(list: string[], n: number, usage: string): string[] {
  if (list.length !== n) throw new UsageError(`expected ${n} argument${n === 1 ? '' : 's'}, got ${list.length}`, usage);
  return list;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };

/** Parses `12`, `64KiB`, `1.5GiB`, ... into bytes; WK_BAD_ARGUMENT otherwise. */
export function parseSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `${flag} must be a size like 512KiB, 64MiB or 1GiB, got '${text}'`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new WeightkitError('WK_BAD_ARGUMENT', `${flag} must be a positive size, got '${text}'`);
  return bytes;
}

/** Parses an integer flag from 1 to `max` (default 2^53 - 1). */
export function parsePositiveInt(text: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0 || n > max) throw new WeightkitError('WK_BAD_ARGUMENT', `${flag} must be an integer from 1 to ${max}, got '${text}'`);
  return n;
}

/** Parses a number flag within [min, max]; `fallback` when the flag is absent. */
export function parseNumber(text: string | undefined, flag: string, range: { min: number; max: number; above?: boolean }, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new WeightkitError('WK_BAD_ARGUMENT', `${flag} is required`);
    return fallback;
  }
  // Decimal only: Number() would also read '0x10' as 16, '1e3' and ' 12 ' as numbers.
  const n = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  const low = range.above ? n > range.min : n >= range.min;
  if (!Number.isFinite(n) || !low || n > range.max) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `${flag} must be a number ${range.above ? 'above' : 'from'} ${range.min} ${range.above ? 'and at most' : 'to'} ${range.max}, got '${text}'`);
  }
  return n;
}
