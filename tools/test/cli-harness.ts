// The CLI as users run it: a real `weightkit` process, its stdout, stderr and
// exit code; the bundled face-api model; a temporary folder per test file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('@weightkit/tools/package.json')), 'dist', 'src', 'bin', 'weightkit.js');

/** The folder of the face-api model that `npm ci` installs. */
export const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');

/** Runs `weightkit ...args` to completion. */
export function weightkit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temporary folder removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
