/**
 * Every fuzz target for --seconds each; non-zero exit on any finding.
 * Native parsers: the libFuzzer programs CMake declares (kind "fuzz"), built
 * with clang and ASan+UBSan in build-fuzz/ (-DWEIGHTKIT_FUZZ=ON), started
 * from a scratch copy of hardening/corpus/<target>/ plus every committed
 * regression. JavaScript parsers (safetensors header, TF.js manifest, the
 * PyTorch checkpoint unpickler): a
 * mutation fuzzer here, where anything thrown that is not a WeightkitError is
 * a finding. Findings go to build-fuzz/findings/; once fixed, a finding is
 * copied to hardening/regressions/<target>/ and replayed by every later run.
 * Usage: node hardening/dist/fuzz.js [--seconds N] [--only target] [--json out.json] [--write-docs]
 * @module
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { WeightCatalog, WeightkitError, parseSafetensorsHeader, parseTfjsManifest, unpickleStateDict } from '@weightkit/core';
import { NATIVE_PACKAGES } from '@weightkit/tools/native-programs';
import { suiteArgs } from './args.js';
import { buildPrograms } from './cmake.js';
import { corpusDir, regressionsDir, repoRoot } from './paths.js';
import { Report } from './report.js';

const args = suiteArgs('fuzz');
const findings = join(repoRoot, 'build-fuzz', 'findings');
mkdirSync(findings, { recursive: true });
const regressions = (name: string) => {
  const dir = join(regressionsDir, name);
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
};
const report = new Report('fuzz', { seconds: args.seconds });

function clang(): string | undefined {
  return ['clang++', 'clang++-14', 'clang++-15', 'clang++-16'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
}

// ---- native parsers: libFuzzer ----
const cxx = clang();
for (const pkg of NATIVE_PACKAGES) {
  if (!cxx) {
    report.record(`${pkg} fuzz targets`, false, { summary: 'clang++ is not installed (apt-get install clang libclang-rt-14-dev)' });
    continue;
  }
  const built = buildPrograms(pkg, 'build-fuzz', 'fuzz', ['-DWEIGHTKIT_FUZZ=ON', `-DCMAKE_CXX_COMPILER=${cxx}`], 'fuzz');
  if ('error' in built) {
    report.record(`${pkg} fuzz targets`, false, { summary: 'build failed' }, built.error);
    continue;
  }
  for (const program of built.programs.filter((p) => !args.only || p.name === args.only)) {
    // Fuzz a scratch copy of the committed seeds, so new inputs never dirty the repository.
    const corpus = join(repoRoot, 'build-fuzz', 'corpus', program.name);
    rmSync(corpus, { recursive: true, force: true });
    mkdirSync(corpus, { recursive: true });
    if (existsSync(join(corpusDir, program.name))) cpSync(join(corpusDir, program.name), corpus, { recursive: true });
    for (const f of regressions(program.name)) cpSync(f, join(corpus, `regression-${basename(f)}`));
    const r = spawnSync(program.path, [corpus, `-max_total_time=${args.seconds}`, '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1',
      `-artifact_prefix=${findings}/${program.name}-`], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1' } });
    const executions = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr)?.[1] ?? 0);
    const coverage = Number([...r.stderr.matchAll(/cov: (\d+)/g)].at(-1)?.[1] ?? 0);
    report.record(program.name, r.status === 0, { engine: 'libFuzzer', executions, coverage, seconds: args.seconds, summary: `${executions} executions, ${coverage} edges` },
      r.stderr.slice(-4000));
  }
}

// ---- JavaScript parsers: a mutation fuzzer ----
let seed = 0x9e3779b9;
const rnd = (n: number) => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
};
const INTERESTING = ['-1', '0', '1e308', '2.0', '18446744073709551616', '9007199254740993', '4294967296', 'null', '[]', '{}', '"\\ud800"', 'NaN', '""'];

function mutate(buf: Buffer): Buffer {
  const b = Buffer.from(buf);
  switch (rnd(6)) {
    case 0:
      for (let i = 0; i < 1 + rnd(4); i++) if (b.length) b[rnd(b.length)] = rnd(256);
      return b;
    case 1: {
      const at = rnd(b.length + 1);
      return Buffer.concat([b.subarray(0, at), Buffer.from([rnd(256)]), b.subarray(at)]);
    }
    case 2: {
      const at = rnd(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rnd(8))]);
    }
    case 3: { // a number replaced by an interesting token
      const s = b.toString('latin1');
      const nums = [...s.matchAll(/-?\d+(\.\d+)?/g)];
      if (!nums.length) return b;
      const m = nums[rnd(nums.length)]!;
      return Buffer.from(s.slice(0, m.index) + INTERESTING[rnd(INTERESTING.length)] + s.slice(m.index! + m[0].length), 'latin1');
    }
    case 4: { // a slice repeated (repeated keys, nested structure)
      const a = rnd(b.length + 1);
      return Buffer.concat([b.subarray(0, a), b.subarray(a, a + rnd(64)), b.subarray(a)]);
    }
    default:
      return b.subarray(0, rnd(b.length + 1));
  }
}

function fuzzJs(name: string, check: (input: Buffer) => void): void {
  const pool: Buffer[] = readdirSync(join(corpusDir, name)).map((f) => readFileSync(join(corpusDir, name, f)));
  const deadline = Date.now() + args.seconds * 1000;
  let executions = 0;
  let finding: { input: Buffer; error: string } | undefined;
  const attempt = (input: Buffer) => {
    executions++;
    try {
      check(input);
    } catch (e) {
      if (!(e instanceof WeightkitError)) finding = { input, error: String((e as Error)?.stack ?? e) };
    }
  };
  for (const f of regressions(name)) if (!finding) attempt(readFileSync(f));
  while (Date.now() < deadline && !finding) {
    let input: Buffer = pool[rnd(pool.length)]!;
    for (let k = 0; k < 1 + rnd(3); k++) input = mutate(input);
    attempt(input);
    if (!finding && pool.length < 512 && rnd(16) === 0) pool.push(input);
  }
  if (finding) writeFileSync(join(findings, `${name}-${Date.now()}`), finding.input);
  report.record(name, !finding, { engine: 'mutation (JavaScript)', executions, seconds: args.seconds, summary: `${executions} executions` }, finding?.error);
}

if (!args.only || args.only === 'safetensors_header') {
  fuzzJs('safetensors_header', (input) => {
    try {
      parseSafetensorsHeader(input, rnd(4) === 0 ? rnd(1 << 20) : 0);
    } catch (e) {
      if (!(e instanceof WeightkitError)) throw e;
      // Again against the data length the header itself implies, to reach the deeper checks.
      const ends = [...input.toString('utf8').matchAll(/"data_offsets"\s*:\s*\[\s*\d+\s*,\s*(\d+)/g)].map((m) => Number(m[1]));
      if (ends.length) parseSafetensorsHeader(input, Math.max(...ends));
    }
  });
}
if (!args.only || args.only === 'tfjs_manifest') {
  fuzzJs('tfjs_manifest', (input) => {
    let json: unknown;
    try {
      json = JSON.parse(input.toString('utf8'));
    } catch {
      return; // the reader refuses non-JSON with WK_BAD_FORMAT before this parser runs
    }
    const parsed = parseTfjsManifest(json, '/models/m/model.json');
    new WeightCatalog(parsed.entries, { bounds: Object.fromEntries(parsed.groups.map((g, i) => [g.storage, parsed.groupBytes[i]!])) });
  });
}
if (!args.only || args.only === 'torch_pickle') {
  // Seeds: the data.pkl of torch.save files written by python3-torch (every
  // dtype, views, a module state dict, nested dicts; protocols 2 to 5).
  fuzzJs('torch_pickle', (input) => {
    unpickleStateDict(input);
  });
}
process.exit(report.finish(args));
