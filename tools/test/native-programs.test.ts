// Every native program CMake declares (weightkit_native_program, listed in
// each package's build/Release/native-programs.json) is known here without a
// list of our own: each test program runs as a real process and passes.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NATIVE_PACKAGES, programsOf } from '@weightkit/tools/native-programs';

describe('native programs', () => {
  for (const pkg of NATIVE_PACKAGES) {
    const tests = programsOf(pkg).filter((p) => p.kind === 'test');
    it(`${pkg} declares a C++ test program`, () => expect(tests.length).toBeGreaterThan(0));
    for (const program of tests) {
      it(`${program.name} passes`, () => {
        expect(program.built, `${program.name} is built by 'npm run build'`).toBe(true);
        expect(existsSync(program.path)).toBe(true);
        const r = spawnSync(program.path, { encoding: 'utf8' });
        expect(r.signal).toBeNull();
        expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
        expect(r.status, r.stdout).toBe(0);
      });
    }
  }

  it('fuzz targets are declared for every parser core, built only in the fuzz build', () => {
    const fuzz = NATIVE_PACKAGES.flatMap((pkg) => programsOf(pkg).filter((p) => p.kind === 'fuzz'));
    expect(fuzz.map((p) => p.name).sort()).toEqual(['constants_info', 'elf_symbol', 'offload_plan', 'xpwc_regions', 'xpwc_trailer', 'zip_directory']);
    expect(fuzz.every((p) => !p.built)).toBe(true);
  });
});
