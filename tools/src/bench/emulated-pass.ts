/**
 * One emulated offload pass measured in a child process of its own
 * (emulated-pass-child.ts), and the figures issue 21 judges the emulator by:
 * wall time against max(modelled time, a plain copy of the same bytes),
 * minor page faults per page moved, anonymous RSS against budget + staging
 * ring + 64 MiB. Shared by bench scale (every size) and bench offload (its
 * model at the floor).
 * @module
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from '../child-json.js';
import type { Targets } from './targets.js';

const MiB = 2 ** 20;
const child = join(dirname(fileURLToPath(import.meta.url)), 'emulated-pass-child.js');

/** What the child measures. */
export interface EmulatedPassSample {
  passMs: number;
  modelledMs: number;
  memcpyMs: number;
  bytesMoved: number;
  minorFaults: number;
  anonRssBytes: number;
  stagingBytes: number;
}

/** The targets of an emulated pass, declared once. */
export const EMULATED_PASS_TARGETS = {
  passVsBound: { label: 'emulated pass / max(modelled, memcpy of the bytes moved)', max: 2, unit: 'x' },
  faultsPerPage: { label: 'minor page faults per page moved, steady pass', max: 0.01, unit: 'pct' },
  anonOverBudget: { label: 'anonymous RSS / (budget + staging ring + 64 MiB)', max: 1, unit: 'x' },
} as const satisfies Targets<string>;

/** One pass over the model at `path` (a file or a folder) with `budgetMb`, and its figures. */
export function measureEmulatedPass(path: string, budgetMb: number) {
  const s = runChild<EmulatedPassSample>(child, [path, String(budgetMb)]);
  const boundBytes = budgetMb * MiB + s.stagingBytes + 64 * MiB;
  return {
    budgetMb, ...s, boundBytes,
    passVsBound: s.passMs / Math.max(s.modelledMs, s.memcpyMs),
    faultsPerPage: s.minorFaults / Math.max(1, s.bytesMoved / 4096),
    anonOverBudget: s.anonRssBytes / boundBytes,
  };
}

export type EmulatedPass = ReturnType<typeof measureEmulatedPass>;
