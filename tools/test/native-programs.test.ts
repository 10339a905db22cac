// Every native core has its own C++ test program (also built with sanitizers
// by the hardening work). Run each as a real process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const PROGRAMS: [pkg: string, program: string][] = [
  ['@weightkit/core', 'core_native_test'],
  ['@weightkit/aoti-blob', 'aoti_native_test'],
  ['@weightkit/xnnpack-cache', 'xnnpack_native_test'],
  ['@weightkit/cuda-offload', 'offload_native_test'],
];

describe('native core test programs', () => {
  for (const [pkg, program] of PROGRAMS) {
    it(`${program} passes`, () => {
      const bin = join(dirname(require.resolve(`${pkg}/package.json`)), 'build', 'Release', program);
      expect(existsSync(bin), `${bin} is built by 'npm run build'`).toBe(true);
      const r = spawnSync(bin, { encoding: 'utf8' });
      expect(r.signal).toBeNull();
      expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
      expect(r.status, r.stdout).toBe(0);
    });
  }
});
