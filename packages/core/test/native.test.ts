// The shared C++ mapping layer has its own test program (also built with
// sanitizers by the hardening work); run it as a real process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = dirname(createRequire(import.meta.url).resolve('@weightkit/core/package.json'));

describe('core native tests', () => {
  it('core_native_test passes', () => {
    const bin = join(root, 'build', 'Release', 'core_native_test');
    expect(existsSync(bin), `${bin} is built by 'npm run build'`).toBe(true);
    const r = spawnSync(bin, { encoding: 'utf8' });
    expect(r.signal).toBeNull();
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
    expect(r.status, r.stdout).toBe(0);
  });
});
