/**
 * Every native core's C++ test programs (as CMake declares them) built under
 * AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer, in
 * build-sanitize/, and run. A program passes when it reports "N passed, 0
 * failed" and no sanitizer wrote a report.
 * Usage: node hardening/dist/sanitize.js [--only address|thread] [--json out.json] [--write-docs]
 * @module
 */
import { NATIVE_PACKAGES } from '@weightkit/tools/native-programs';
import { suiteArgs } from './args.js';
import { buildPrograms, run } from './cmake.js';
import { Report } from './report.js';

const args = suiteArgs('sanitize');
const MODES = (['address', 'thread'] as const).filter((m) => !args.only || m === args.only);
const ENV = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1',
};
const SANITIZER_REPORT = /(ERROR|WARNING): (Address|Thread|Leak)Sanitizer|runtime error:/;

const report = new Report('sanitize');
for (const mode of MODES) {
  const label = mode === 'address' ? 'ASan+UBSan' : 'TSan';
  for (const pkg of NATIVE_PACKAGES) {
    const built = buildPrograms(pkg, 'build-sanitize', mode, [`-DWEIGHTKIT_SANITIZE=${mode}`], 'test');
    if ('error' in built) {
      report.record(`${pkg} (${label})`, false, { mode, summary: 'build failed' }, built.error);
      continue;
    }
    for (const program of built.programs) {
      const t0 = Date.now();
      const r = run(program.path, [], { env: ENV });
      const cases = /(\d+) passed, (\d+) failed/.exec(r.out);
      const ok = r.ok && cases?.[2] === '0' && !SANITIZER_REPORT.test(r.out);
      report.record(`${program.name} (${label})`, ok, {
        mode, ms: Date.now() - t0, cases: cases ? Number(cases[1]) + Number(cases[2]) : 0, ...(cases ? { summary: cases[0] } : {}),
      }, r.out.slice(-3000));
    }
  }
}
process.exit(report.finish(args));
