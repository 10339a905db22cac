#!/usr/bin/env node
// Builds every native core and its C++ test program under AddressSanitizer +
// UndefinedBehaviorSanitizer, and under ThreadSanitizer, then runs them.
// Prints one line per program and closes with "N passed, N failed".
// Usage: node tools/hardening/sanitize.mjs [--only address|thread] [--json out.json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;

const PACKAGES = [
  ['core', ['core_native_test']],
  ['aoti-blob', ['aoti_native_test']],
  ['xnnpack-cache', ['xnnpack_native_test']],
  ['cuda-offload', ['offload_native_test']],
];
const MODES = ['address', 'thread'].filter((m) => !only || m === only);
const ENV = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1',
};

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { ok: r.status === 0, out: (r.stdout ?? '') + (r.stderr ?? ''), status: r.status, signal: r.signal };
}

const results = [];
let passed = 0;
let failed = 0;
for (const mode of MODES) {
  for (const [pkg, programs] of PACKAGES) {
    const src = join(root, 'packages', pkg);
    const build = join(root, 'build-sanitize', `${pkg}-${mode}`);
    mkdirSync(build, { recursive: true });
    const configure = run('cmake', ['-S', src, '-B', build, '-G', 'Ninja', `-DWEIGHTKIT_SANITIZE=${mode}`, '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
    const compiled = configure.ok && run('cmake', ['--build', build, '--target', ...programs]);
    for (const program of programs) {
      const name = `${program} (${mode === 'address' ? 'ASan+UBSan' : 'TSan'})`;
      if (!configure.ok || !compiled.ok) {
        failed++;
        results.push({ name, mode, ok: false, output: (configure.ok ? compiled.out : configure.out).slice(-4000) });
        console.log(`FAIL ${name}: build failed\n${(configure.ok ? compiled.out : configure.out).slice(-2000)}`);
        continue;
      }
      const t0 = Date.now();
      const r = run(join(build, 'Release', program), [], { env: ENV, cwd: build });
      const ok = r.ok && /\b\d+ passed, 0 failed\b/.test(r.out) && !/(ERROR|WARNING): (Address|Thread|Leak)Sanitizer|runtime error:/.test(r.out);
      const cases = /(\d+) passed, (\d+) failed/.exec(r.out);
      results.push({ name, mode, ok, ms: Date.now() - t0, cases: cases ? Number(cases[1]) + Number(cases[2]) : 0, output: ok ? '' : r.out.slice(-4000) });
      if (ok) passed++;
      else failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${cases ? `: ${cases[0]}` : ''}${ok ? '' : `\n${r.out.slice(-3000)}`}`);
    }
  }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), results }, null, 2) + '\n');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
