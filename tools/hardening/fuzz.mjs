#!/usr/bin/env node
// Runs every fuzz target for --seconds N each (default 10) and exits non-zero
// on any finding. Native parsers run under libFuzzer with ASan+UBSan (clang);
// the JavaScript parsers (safetensors header, TF.js manifest) under a
// mutation fuzzer here, where anything thrown that is not a WeightkitError is
// a finding. Findings are written to build-fuzz/findings/; once fixed, a
// finding is copied to tools/hardening/regressions/<target>/ and every later
// run replays it before fuzzing.
// Usage: node tools/hardening/fuzz.mjs [--seconds N] [--only name] [--json out.json]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(opt('--seconds', '10'));
const only = opt('--only', undefined);
const jsonOut = opt('--json', undefined);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error('usage: fuzz.mjs [--seconds N] [--only target] [--json out.json]');
  process.exit(2);
}
const build = join(root, 'build-fuzz');
const findings = join(build, 'findings');
const regressions = (name) => {
  const dir = join(here, 'regressions', name);
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
};
mkdirSync(findings, { recursive: true });

const pkg = (p, ...rest) => join(root, 'packages', p, ...rest);
const NATIVE = [
  { name: 'xpwc_trailer', target: pkg('xnnpack-cache', 'native/fuzz/xpwc_trailer.cc'), sources: [pkg('xnnpack-cache', 'native/src/xpwc.cc')], include: pkg('xnnpack-cache', 'native/include') },
  ...['constants_info', 'zip_directory', 'elf_symbol'].map((name) => ({
    name, target: pkg('aoti-blob', `native/fuzz/${name}.cc`),
    sources: ['constants_info', 'payload', 'zip', 'elf'].map((s) => pkg('aoti-blob', `native/src/${s}.cc`)), include: pkg('aoti-blob', 'native/include'),
  })),
  { name: 'offload_plan', target: pkg('cuda-offload', 'native/fuzz/offload_plan.cc'), sources: [pkg('cuda-offload', 'native/src/plan.cc')], include: pkg('cuda-offload', 'native/include') },
];

function clang() {
  for (const c of ['clang++', 'clang++-14', 'clang++-15', 'clang++-16']) {
    if (spawnSync('sh', ['-c', `command -v ${c}`]).status === 0) return c;
  }
  return undefined;
}

const results = [];
function record(name, ok, detail) {
  results.push({ name, ok, ...detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail.summary ? `: ${detail.summary}` : ''}${ok || !detail.output ? '' : `\n${detail.output}`}`);
}

const cxx = clang();
for (const t of NATIVE.filter((t) => !only || t.name === only)) {
  if (!cxx) {
    record(t.name, false, { summary: 'clang++ is not installed (apt-get install clang libclang-rt-14-dev)' });
    continue;
  }
  const exe = join(build, t.name);
  const compile = spawnSync(cxx, ['-std=c++17', '-O1', '-g', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined',
    '-I', join(root, 'packages/core/native/include'), '-I', t.include, t.target, ...t.sources, '-o', exe], { encoding: 'utf8' });
  if (compile.status !== 0) {
    record(t.name, false, { summary: 'build failed', output: compile.stderr.slice(-3000) });
    continue;
  }
  // Fuzz a scratch copy of the committed seeds, so new inputs never dirty the repository.
  const corpus = join(build, 'corpus', t.name);
  rmSync(corpus, { recursive: true, force: true });
  mkdirSync(corpus, { recursive: true });
  cpSync(join(here, 'corpus', t.name), corpus, { recursive: true });
  for (const f of regressions(t.name)) cpSync(f, join(corpus, `regression-${basename(f)}`));
  const r = spawnSync(exe, [corpus, `-max_total_time=${seconds}`, '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1',
    `-artifact_prefix=${findings}/${t.name}-`], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1' } });
  const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr)?.[1];
  const cov = /cov: (\d+)/g;
  let last;
  for (let m; (m = cov.exec(r.stderr)); ) last = m[1];
  record(t.name, r.status === 0, { engine: 'libFuzzer', executions: Number(runs ?? 0), coverage: Number(last ?? 0), seconds,
    summary: `${runs ?? '?'} executions, ${last ?? '?'} edges`, output: r.status === 0 ? '' : r.stderr.slice(-4000) });
}

// ---- JavaScript parsers: a mutation fuzzer ----
const core = await import('@weightkit/core');
const { WeightkitError, parseSafetensorsHeader, parseTfjsManifest, WeightCatalog } = core;

let seed = 0x9e3779b9;
const rnd = (n) => {
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed % n;
};
const INTERESTING = ['-1', '0', '1e308', '18446744073709551616', '9007199254740993', '4294967296', 'null', '[]', '{}', '"\\ud800"', 'NaN', '""'];
function mutate(buf) {
  const b = Buffer.from(buf);
  switch (rnd(6)) {
    case 0: { for (let i = 0; i < 1 + rnd(4); i++) if (b.length) b[rnd(b.length)] = rnd(256); return b; }
    case 1: { const at = rnd(b.length + 1); return Buffer.concat([b.subarray(0, at), Buffer.from([rnd(256)]), b.subarray(at)]); }
    case 2: { const at = rnd(b.length + 1); return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rnd(8))]); }
    case 3: { // replace a number with an interesting token
      const s = b.toString('latin1');
      const nums = [...s.matchAll(/-?\d+(\.\d+)?/g)];
      if (!nums.length) return b;
      const m = nums[rnd(nums.length)];
      return Buffer.from(s.slice(0, m.index) + INTERESTING[rnd(INTERESTING.length)] + s.slice(m.index + m[0].length), 'latin1');
    }
    case 4: { // duplicate a slice (repeated keys, nested structure)
      const a = rnd(b.length + 1); const len = rnd(64);
      return Buffer.concat([b.subarray(0, a), b.subarray(a, a + len), b.subarray(a)]);
    }
    default: return b.subarray(0, rnd(b.length + 1));
  }
}

function fuzzJs(name, check) {
  const dir = join(here, 'corpus', name);
  const pool = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
  const deadline = Date.now() + seconds * 1000;
  let executions = 0;
  let finding;
  const attempt = (input) => {
    executions++;
    try {
      check(input);
    } catch (e) {
      if (!(e instanceof WeightkitError)) finding = { input, error: String(e?.stack ?? e) };
    }
  };
  for (const f of regressions(name)) if (!finding) attempt(readFileSync(f));
  while (Date.now() < deadline && !finding) {
    let input = pool[rnd(pool.length)];
    for (let k = 0; k < 1 + rnd(3); k++) input = mutate(input);
    // keep some accepted-or-refused variants to mutate further
    attempt(input);
    if (!finding && pool.length < 512 && rnd(16) === 0) pool.push(input);
  }
  if (finding) writeFileSync(join(findings, `${name}-${Date.now()}`), finding.input);
  record(name, !finding, { engine: 'mutation (JavaScript)', executions, seconds, summary: `${executions} executions`, output: finding?.error });
}

if (!only || only === 'safetensors_header') {
  fuzzJs('safetensors_header', (input) => {
    const dataLength = rnd(4) === 0 ? rnd(1 << 20) : 0;
    try {
      parseSafetensorsHeader(input, dataLength);
    } catch (e) {
      if (e instanceof WeightkitError) {
        // Retry against the data length the header itself implies, to reach the deeper checks.
        const text = input.toString('utf8');
        const ends = [...text.matchAll(/"data_offsets"\s*:\s*\[\s*\d+\s*,\s*(\d+)/g)].map((m) => Number(m[1]));
        if (ends.length) parseSafetensorsHeader(input, Math.max(...ends));
        return;
      }
      throw e;
    }
  });
}
if (!only || only === 'tfjs_manifest') {
  fuzzJs('tfjs_manifest', (input) => {
    let json;
    try {
      json = JSON.parse(input.toString('utf8'));
    } catch {
      return; // the reader refuses non-JSON with WK_BAD_FORMAT before this parser runs
    }
    const parsed = parseTfjsManifest(json, '/models/m/model.json');
    const bounds = Object.fromEntries(parsed.groups.map((g, i) => [g.storage, parsed.groupBytes[i]]));
    new WeightCatalog(parsed.entries, { bounds });
  });
}

const passed = results.filter((r) => r.ok).length;
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), seconds, results: results.map(({ output, ...r }) => r) }, null, 2) + '\n');
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
