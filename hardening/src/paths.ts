/** Where the hardening suites find the repository and their own files. @module */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** hardening/dist/paths.js -> the repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Committed seed corpora, one folder per fuzz target. */
export const corpusDir = join(repoRoot, 'hardening', 'corpus');
/** Committed inputs of fixed findings, replayed before fuzzing. */
export const regressionsDir = join(repoRoot, 'hardening', 'regressions');
/** A compiled child program of the fault experiments. */
export const childProgram = (name: string) => join(dirname(fileURLToPath(import.meta.url)), 'children', `${name}.js`);
