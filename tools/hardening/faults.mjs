#!/usr/bin/env node
// Fault injection with real processes. Every trial ends with a reopen and a
// verification; the run writes its counts to --json (docs/reliability/faults.json by
// default) and closes with "N passed, N failed".
//   kill -9 at random instants of: packing + saving a cache, compacting it,
//     converting a model to .pt2 (--trials each, default 100)
//   a full disk (8 MiB tmpfs in a private mount namespace) at every stage
//   a file rewritten or truncated underneath a live reader
//   concurrent writers on one cache
// Usage: node tools/hardening/faults.mjs [--trials N] [--json out.json]
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { AotiWeights } from '@weightkit/aoti-blob';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const trials = Number(opt('--trials', '100'));
const jsonOut = opt('--json', join(root, 'docs', 'reliability', 'faults.json'));
const work = mkdtempSync(join(tmpdir(), 'wk-faults-'));
const report = { date: new Date().toISOString(), trials, experiments: [] };
let failed = 0;

function experiment(name, data, ok) {
  report.experiments.push({ name, ok, ...data });
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${JSON.stringify(data)}`);
}

function model(path, layers, out, inp, scale) {
  writeSafetensors(path, Array.from({ length: layers }, (_, l) => [
    { name: `l${l}.weight`, dtype: 'float32', shape: [out, inp], data: (c, at) => { const f = new Float32Array(c.buffer, c.byteOffset, c.byteLength / 4); f.forEach((_, i) => (f[i] = Math.sin(l + at + i) * scale)); } },
    { name: `l${l}.bias`, dtype: 'float32', shape: [out], data: (c) => c.fill(l + 1) },
  ]).flat());
  return path;
}

const child = (script, env) => spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
// Listen for the exit as soon as the process exists: it may end before anyone kills it.
const exits = new WeakMap();
const exited = (p) => exits.get(p) ?? new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })));
const watch = (p) => {
  exits.set(p, new Promise((r) => p.on('exit', (code, signal) => r({ code, signal }))));
  return p;
};
let rng = 12345;
const rand = (n) => ((rng = (rng * 1103515245 + 12345) >>> 0) >>> 8) % n;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- kill -9 during pack and save ----
const small = model(join(work, 'small.safetensors'), 4, 64, 64, 1);
const medium = model(join(work, 'medium.safetensors'), 8, 512, 256, 2);
const cachePath = join(work, 'kill.xpwc');
{
  const c = await PackedWeightsCache.open({ path: cachePath });
  const m = SafetensorsMap.openSync(small);
  c.initialize(); await c.packModel(m, { namespace: 'base/' }); c.finalize(); await c.save(); c.close(); m.close();
}
const baseline = await PackedWeightsCache.open({ path: cachePath });
const expected = new Map(baseline.names().map((n) => [n, Buffer.from(baseline.view(n))]));
baseline.close();
const packScript = `
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
const map = SafetensorsMap.openSync(process.env.MODEL);
for (let i = 0; ; i++) {
  const c = await PackedWeightsCache.open({ path: process.env.CACHE, lockWaitMs: 5000 });
  c.initialize(); await c.packModel(map, { namespace: process.env.NS + i + '/' }); c.finalize(); await c.save(); c.close();
}`;
{
  let lost = 0, bad = 0, recovered = 0, survived = 0, maxEntries = 0;
  for (let t = 0; t < trials; t++) {
    const p = watch(child(packScript, { MODEL: medium, CACHE: cachePath, NS: `t${t}.` }));
    await sleep(60 + rand(300));
    p.kill('SIGKILL');
    await exited(p);
    const verify = await PackedWeightsCache.verifyFile(cachePath);
    bad += verify.bad.length;
    const c = await PackedWeightsCache.open({ path: cachePath, verifyOnOpen: true });
    if (c.stats().recovered) recovered++;
    for (const [n, bytes] of expected) if (!c.view(n) || !Buffer.from(c.view(n)).equals(bytes)) lost++;
    maxEntries = Math.max(maxEntries, c.names().length);
    c.close();
    survived++;
  }
  experiment('kill -9 while packing and saving a cache', { trials, survived, recoveredEarlierTrailer: recovered, damagedEntries: bad, baselineEntriesLost: lost, entriesAtEnd: maxEntries }, lost === 0 && bad === 0 && survived === trials);
}

// ---- kill -9 during compaction ----
{
  const big = join(work, 'compact-src.xpwc');
  const m = SafetensorsMap.openSync(model(join(work, 'large.safetensors'), 16, 1024, 1024, 1));
  for (let round = 0; round < 3; round++) {  // superseded packs make orphans to compact away
    const c = await PackedWeightsCache.open({ path: big });
    c.initialize(); await c.packModel(m, { hashInputs: true, namespace: 'm/', ...(round ? { nr: 8 * round } : {}) }); c.finalize(); await c.save(); c.close();
  }
  m.close();
  const names = (await PackedWeightsCache.inspectFile(big)).entries.map((e) => e.name).sort();
  const target = join(work, 'compact.xpwc');
  // The child says when it starts compacting; the kill lands within twice a compaction's duration after that.
  const compactScript = `import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
const t0 = performance.now(); process.stdout.write('go\\n'); await PackedWeightsCache.compactFile(process.env.CACHE);
process.stdout.write(String(performance.now() - t0) + '\\n');`;
  copyFileSync(big, target);
  const timing = spawnSync(process.execPath, ['--input-type=module', '-e', compactScript], { cwd: root, encoding: 'utf8', env: { ...process.env, CACHE: target } });
  const compactMs = Math.max(2, Math.round(Number(timing.stdout.trim().split('\n').pop())));
  let intact = 0, completed = 0, bad = 0;
  for (let t = 0; t < trials; t++) {
    copyFileSync(big, target);
    const p = watch(spawn(process.execPath, ['--input-type=module', '-e', compactScript], { cwd: root, env: { ...process.env, CACHE: target }, stdio: ['ignore', 'pipe', 'ignore'] }));
    await new Promise((r) => p.stdout.once('data', r));
    await sleep(rand(2 * compactMs));
    p.kill('SIGKILL');
    const { code } = await exited(p);
    if (code === 0) completed++;
    const info = await PackedWeightsCache.inspectFile(target);
    const v = await PackedWeightsCache.verifyFile(target);
    bad += v.bad.length;
    if (JSON.stringify(info.entries.map((e) => e.name).sort()) === JSON.stringify(names)) intact++;
    for (const f of readdirSync(work)) if (f.startsWith('compact.xpwc.compact-')) rmSync(join(work, f));
  }
  experiment('kill -9 while compacting', { trials, compactMs, everyEntryPresent: intact, compactionsThatFinished: completed, damagedEntries: bad }, intact === trials && bad === 0);
}

// ---- kill -9 during conversion to .pt2 ----
{
  const out = join(work, 'model.pt2');
  const convertScript = `
import { SafetensorsMap } from '@weightkit/core';
import { writePt2 } from '@weightkit/aoti-blob';
const map = SafetensorsMap.openSync(process.env.MODEL);
for (;;) await writePt2(process.env.OUT, map);`;
  const src = SafetensorsMap.openSync(medium);
  let valid = 0, absent = 0, partial = 0, midWrite = 0;
  for (let t = 0; t < trials; t++) {
    rmSync(out, { force: true });
    const p = watch(child(convertScript, { MODEL: medium, OUT: out }));
    await sleep(80 + rand(300));
    p.kill('SIGKILL');
    await exited(p);
    const temps = readdirSync(work).filter((f) => f.startsWith('model.pt2.tmp-'));
    if (temps.length) midWrite++;
    for (const f of temps) rmSync(join(work, f));
    if (!existsSync(out)) { absent++; continue; }
    try {
      const w = await AotiWeights.open(out);
      const same = src.keys().every((k) => Buffer.from(w.bytes(k)).equals(Buffer.from(src.bytes(k))));
      w.close();
      if (same) valid++; else partial++;
    } catch {
      partial++;
    }
  }
  src.close();
  experiment('kill -9 while converting to .pt2', { trials, killedMidWrite: midWrite, completeAndIdentical: valid, notYetWritten: absent, partialOrDamaged: partial }, partial === 0);
}

// ---- a full disk at every stage (8 MiB tmpfs in a private mount namespace) ----
{
  const script = `
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { writePt2 } from '@weightkit/aoti-blob';
import { existsSync, statSync } from 'node:fs';
const dir = process.env.MNT, out = {};
const map = SafetensorsMap.openSync(process.env.MODEL);
const code = async (f) => { try { await f(); return 'ok'; } catch (e) { return e.code ?? String(e); } };
// 1. packing into the cache until the disk is full: falls back to the heap
let c = await PackedWeightsCache.open({ path: dir + '/c.xpwc' });
c.initialize(); await c.packModel(map, { namespace: 'a/' }); c.finalize();
out.saveFirst = await code(() => c.save());
out.fallbackNoSpace = c.stats().heapFallbackBytes.noSpace; c.close();
for (let i = 0; i < 3; i++) {
  c = await PackedWeightsCache.open({ path: dir + '/c.xpwc' });
  c.initialize(); await c.packModel(map, { namespace: 'b' + i + '/' }); c.finalize();
  out['save' + i] = await code(() => c.save());
  out.fallbackNoSpace += c.stats().heapFallbackBytes.noSpace; c.close();
}
c = await PackedWeightsCache.open({ path: dir + '/c.xpwc', verifyOnOpen: true });
out.entriesAfter = c.names().length; out.bad = (await c.verify()).bad.length; c.close();
// 2. compaction needs a second copy: refused with a typed error, the cache intact
out.compact = await code(() => PackedWeightsCache.compactFile(dir + '/c.xpwc'));
out.entriesAfterCompact = (await PackedWeightsCache.inspectFile(dir + '/c.xpwc')).entries.length;
// 3. converting to .pt2 and writing safetensors: typed errors, no partial files
out.pt2 = await code(() => writePt2(dir + '/m.pt2', map));
out.pt2Exists = existsSync(dir + '/m.pt2');
out.safetensors = await code(async () => writeSafetensors(dir + '/copy.safetensors', [...map.catalog].map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: map.bytes(t.name) }))));
out.safetensorsExists = existsSync(dir + '/copy.safetensors');
console.log(JSON.stringify(out));`;
  const mnt = join(work, 'small-fs');
  spawnSync('mkdir', ['-p', mnt]);
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', `mount -t tmpfs -o size=8m tmpfs "$MNT" && exec "${process.execPath}" --input-type=module -e "$SCRIPT"`],
    { cwd: root, encoding: 'utf8', env: { ...process.env, MNT: mnt, MODEL: model(join(work, 'fd.safetensors'), 6, 512, 512, 1), SCRIPT: script } });
  let out;
  try { out = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { out = { error: (r.stderr || '').slice(-500), signal: r.signal }; }
  const ok = r.signal === null && out.fallbackNoSpace > 0 && out.bad === 0 && out.compact === 'WK_NO_SPACE' && out.entriesAfterCompact === out.entriesAfter &&
    out.pt2 === 'WK_NO_SPACE' && !out.pt2Exists && out.safetensors === 'WK_NO_SPACE' && !out.safetensorsExists;
  experiment('a full disk at every stage (8 MiB tmpfs)', out, ok);
}

// ---- files changed underneath a live reader ----
{
  const path = model(join(work, 'live.safetensors'), 2, 256, 256, 1);
  const reader = SafetensorsMap.openSync(path);
  const before = Buffer.from(reader.bytes('l0.weight'));
  model(path, 2, 256, 256, 3);  // rewritten: written to a temporary file and renamed over it
  const unchanged = Buffer.from(reader.bytes('l0.weight')).equals(before);
  reader.close();
  const truncate = spawnSync(process.execPath, ['--input-type=module', '-e', `
import { SafetensorsMap } from '@weightkit/core';
import { truncateSync } from 'node:fs';
const m = SafetensorsMap.openSync(process.env.P);
const v = m.bytes('l1.weight');
truncateSync(process.env.P, 4096);   // another program cuts the file in place
let reopen; try { SafetensorsMap.openSync(process.env.P); } catch (e) { reopen = e.code; }
console.log(reopen);
v[v.length - 1];                     // a page past the new end of the file`], { cwd: root, encoding: 'utf8', env: { ...process.env, P: path } });
  const c = await PackedWeightsCache.open({ path: join(work, 'busy.xpwc') });
  const m = SafetensorsMap.openSync(small);
  c.initialize(); await c.packModel(m); c.finalize(); await c.save();
  const held = spawnSync(process.execPath, ['--input-type=module', '-e', `
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
try { await PackedWeightsCache.compactFile(process.env.P); console.log('compacted'); } catch (e) { console.log(e.code); }`], { cwd: root, encoding: 'utf8', env: { ...process.env, P: join(work, 'busy.xpwc') } });
  const stillGood = (await c.verify()).bad.length === 0;
  c.close(); m.close();
  const out = {
    rewriteByRenameKeepsOldViews: unchanged,
    truncatedInPlaceReopen: truncate.stdout.trim().split('\n')[0],
    truncatedInPlaceOldViewPastEnd: truncate.signal ?? `exit ${truncate.status}`,
    compactWhileAReaderHoldsIt: held.stdout.trim(),
    readerUnaffected: stillGood,
  };
  experiment('files changed underneath a live reader', out, unchanged && out.truncatedInPlaceReopen === 'WK_BAD_FORMAT' && out.compactWhileAReaderHoldsIt === 'WK_LOCKED' && stillGood);
}

// ---- concurrent writers ----
{
  const path = join(work, 'writers.xpwc');
  let rounds = 0, merged = 0, bad = 0;
  const writer = `
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
const map = SafetensorsMap.openSync(process.env.MODEL);
const c = await PackedWeightsCache.open({ path: process.env.CACHE, lockWaitMs: 30000 });
c.initialize(); await c.packModel(map, { namespace: process.env.NS }); c.finalize(); await c.save(); c.close();`;
  for (let round = 0; round < 10; round++) {
    rmSync(path, { force: true });
    const ps = [0, 1, 2, 3].map((i) => watch(spawn(process.execPath, ['--input-type=module', '-e', writer], { cwd: root, env: { ...process.env, MODEL: small, CACHE: path, NS: `w${i}/` }, stdio: 'ignore' })));
    const codes = await Promise.all(ps.map(exited));
    rounds++;
    const names = (await PackedWeightsCache.inspectFile(path)).entries.map((e) => e.name);
    if (codes.every((c) => c.code === 0) && [0, 1, 2, 3].every((i) => names.filter((n) => n.startsWith(`w${i}/`)).length === 4)) merged++;
    bad += (await PackedWeightsCache.verifyFile(path)).bad.length;
  }
  experiment('4 concurrent writers on one cache (waiting for the lock)', { rounds, everyWritersEntriesKept: merged, damagedEntries: bad }, merged === rounds && bad === 0);
}

rmSync(work, { recursive: true, force: true });
writeFileSync(jsonOut, JSON.stringify(report, null, 2) + '\n');
console.log(`${report.experiments.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
