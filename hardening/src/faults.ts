/**
 * Fault injection with real processes (children in hardening/src/children/).
 * Every experiment ends with a reopen and a verification:
 *   kill -9 at random instants of packing + saving a cache, compacting it,
 *     converting a model to .pt2 (--trials each, default 100)
 *   a full disk (8 MiB tmpfs in a private mount namespace) at every stage
 *   a file rewritten or truncated underneath a live reader
 *   4 concurrent writers on one cache; 8 processes on one cache (writers,
 *     a compactor, a writer killed with SIGKILL at random; 200 saves in all,
 *     or --trials if more): no hang, no lost save
 *   100,000 open/read/close cycles of each format (mappings and RSS flat)
 *   readers of an AOTI folder that writers (aborted, killed) keep replacing
 *   every parser's time against its input size, 1 to 64 MiB: linear
 * Usage: node hardening/dist/faults.js [--trials N] [--only name] [--json out.json] [--write-docs]
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { AotiWeights, writeAotiFolder, writePt2 } from '@weightkit/aoti-blob';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { suiteArgs } from './args.js';
import { linearTime } from './linear-time.js';
import { childProgram, repoRoot } from './paths.js';
import { Report } from './report.js';

const args = suiteArgs('faults');
const trials = args.trials;
const work = mkdtempSync(join(tmpdir(), 'wk-faults-'));
const report = new Report('faults', { trials });
const wanted = (name: string) => !args.only || name.includes(args.only);

function model(path: string, layers: number, out: number, inp: number, scale: number): string {
  writeSafetensors(path, Array.from({ length: layers }, (_, l) => [
    {
      name: `l${l}.weight`, dtype: 'float32' as const, shape: [out, inp],
      data: (c: Uint8Array, at: number) => {
        const f = new Float32Array(c.buffer, c.byteOffset, c.byteLength / 4);
        f.forEach((_, i) => (f[i] = Math.sin(l + at + i) * scale));
      },
    },
    { name: `l${l}.bias`, dtype: 'float32' as const, shape: [out], data: (c: Uint8Array) => c.fill(l + 1) },
  ]).flat());
  return path;
}

/** A child program with `env`; its exit is watched from the start (it may end before anyone kills it). */
function start(name: string, env: Record<string, string>, stdout: 'ignore' | 'pipe' = 'ignore'): { p: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const p = spawn(process.execPath, [childProgram(name)], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'ignore'] });
  return { p, exit: new Promise((r) => p.on('exit', (code, signal) => r({ code, signal }))) };
}
function runChild(name: string, env: Record<string, string>) {
  return spawnSync(process.execPath, [childProgram(name)], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env } });
}
let rng = 12345;
const rand = (n: number) => ((rng = (rng * 1103515245 + 12345) >>> 0) >>> 8) % n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const small = model(join(work, 'small.safetensors'), 4, 64, 64, 1);
const medium = model(join(work, 'medium.safetensors'), 8, 512, 256, 2);

if (wanted('kill -9 while packing')) {
  const cachePath = join(work, 'kill.xpwc');
  const seed = await PackedWeightsCache.open({ path: cachePath });
  const m = SafetensorsMap.openSync(small);
  seed.initialize();
  await seed.packModel(m, { namespace: 'base/' });
  seed.finalize();
  await seed.save();
  await seed.close();
  m.close();
  const baseline = await PackedWeightsCache.open({ path: cachePath });
  const expected = new Map(baseline.names().map((n) => [n, Buffer.from(baseline.view(n)!)]));
  await baseline.close();
  let lost = 0, bad = 0, repaired = 0, footerAtEof = 0, maxEntries = 0;
  for (let t = 0; t < trials; t++) {
    const { p, exit } = start('pack-loop', { MODEL: medium, CACHE: cachePath, NS: `t${t}.` });
    await sleep(60 + rand(300));
    p.kill('SIGKILL');
    await exit;
    // The next weightkit open repairs what the killed writer left; then ExecuTorch's reader rule holds.
    const c = await PackedWeightsCache.open({ path: cachePath, verify: 'open' });
    if (c.stats().repairedEntries > 0 || c.stats().recovered) repaired++;
    for (const [n, bytes] of expected) if (!c.view(n) || !Buffer.from(c.view(n)!).equals(bytes)) lost++;
    maxEntries = Math.max(maxEntries, c.names().length);
    await c.close();
    const info = await PackedWeightsCache.inspectFile(cachePath);
    if (info.footerAtEof) footerAtEof++;
    bad += (await PackedWeightsCache.verifyFile(cachePath)).bad.length;
  }
  report.record('kill -9 while packing and saving a cache', lost === 0 && bad === 0 && footerAtEof === trials,
    { trials, repairedAfterKill: repaired, footerAtEofAfterReopen: footerAtEof, damagedEntries: bad, baselineEntriesLost: lost, entriesAtEnd: maxEntries });
}

if (wanted('kill -9 while compacting')) {
  const big = join(work, 'compact-src.xpwc');
  const m = SafetensorsMap.openSync(model(join(work, 'large.safetensors'), 16, 1024, 1024, 1));
  for (let round = 0; round < 3; round++) { // superseded packs leave orphans to compact away
    const c = await PackedWeightsCache.open({ path: big });
    c.initialize();
    await c.packModel(m, { hashInputs: true, namespace: 'm/', ...(round ? { nr: 8 * round } : {}) });
    c.finalize();
    await c.save();
    await c.close();
  }
  m.close();
  const names = (await PackedWeightsCache.inspectFile(big)).entries.map((e) => e.name).sort();
  const target = join(work, 'compact.xpwc');
  copyFileSync(big, target);
  const compactMs = Math.max(2, Math.round(Number(runChild('compact', { CACHE: target }).stdout.trim().split('\n').pop())));
  let intact = 0, completed = 0, bad = 0;
  for (let t = 0; t < trials; t++) {
    copyFileSync(big, target);
    const { p, exit } = start('compact', { CACHE: target }, 'pipe');
    await new Promise((r) => p.stdout!.once('data', r));
    await sleep(rand(2 * compactMs));
    p.kill('SIGKILL');
    if ((await exit).code === 0) completed++;
    const info = await PackedWeightsCache.inspectFile(target);
    bad += (await PackedWeightsCache.verifyFile(target)).bad.length;
    if (JSON.stringify(info.entries.map((e) => e.name).sort()) === JSON.stringify(names)) intact++;
    for (const f of readdirSync(work)) if (f.startsWith('compact.xpwc.compact-')) rmSync(join(work, f));
  }
  report.record('kill -9 while compacting', intact === trials && bad === 0, { trials, compactMs, everyEntryPresent: intact, compactionsThatFinished: completed, damagedEntries: bad });
}

if (wanted('kill -9 while converting')) {
  const out = join(work, 'model.pt2');
  const src = SafetensorsMap.openSync(medium);
  let valid = 0, absent = 0, partial = 0, midWrite = 0;
  for (let t = 0; t < trials; t++) {
    rmSync(out, { force: true });
    const { p, exit } = start('convert-loop', { MODEL: medium, OUT: out });
    await sleep(80 + rand(300));
    p.kill('SIGKILL');
    await exit;
    const temps = readdirSync(work).filter((f) => f.startsWith('model.pt2.wk-tmp-'));
    if (temps.length) midWrite++;
    for (const f of temps) rmSync(join(work, f));
    if (!existsSync(out)) {
      absent++;
      continue;
    }
    try {
      const w = await AotiWeights.open(out);
      const same = src.keys().every((k) => Buffer.from(w.bytes(k)).equals(Buffer.from(src.bytes(k))));
      w.close();
      if (same) valid++;
      else partial++;
    } catch {
      partial++;
    }
  }
  src.close();
  report.record('kill -9 while converting to .pt2', partial === 0, { trials, killedMidWrite: midWrite, completeAndIdentical: valid, notYetWritten: absent, partialOrDamaged: partial });
}

if (wanted('a full disk')) {
  const mnt = join(work, 'small-fs');
  mkdirSync(mnt, { recursive: true });
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', `mount -t tmpfs -o size=8m tmpfs "$MNT" && exec "${process.execPath}" "${childProgram('full-disk')}"`],
    { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, MNT: mnt, MODEL: model(join(work, 'fd.safetensors'), 6, 512, 512, 1) } });
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  } catch {
    out = { error: (r.stderr || '').slice(-500), signal: r.signal };
  }
  const ok = r.signal === null && (out.fallbackNoSpace as number) > 0 && out.bad === 0 && out.compact === 'WK_NO_SPACE' && out.entriesAfterCompact === out.entriesAfter &&
    out.pt2 === 'WK_NO_SPACE' && !out.pt2Exists && out.safetensors === 'WK_NO_SPACE' && !out.safetensorsExists;
  report.record('a full disk at every stage (8 MiB tmpfs)', ok, out);
}

if (wanted('files changed underneath')) {
  const path = model(join(work, 'live.safetensors'), 2, 256, 256, 1);
  const reader = SafetensorsMap.openSync(path);
  const before = Buffer.from(reader.bytes('l0.weight'));
  model(path, 2, 256, 256, 3); // rewritten: a temporary file renamed over it
  const unchanged = Buffer.from(reader.bytes('l0.weight')).equals(before);
  reader.close();
  const truncate = runChild('truncate-reader', { P: path });
  const busy = join(work, 'busy.xpwc');
  const c = await PackedWeightsCache.open({ path: busy });
  const m = SafetensorsMap.openSync(small);
  c.initialize();
  await c.packModel(m);
  c.finalize();
  await c.save();
  const held = runChild('compact-held', { CACHE: busy });
  const stillGood = (await c.verify()).bad.length === 0;
  await c.close();
  m.close();
  const out = {
    rewriteByRenameKeepsOldViews: unchanged,
    truncatedInPlaceReopen: truncate.stdout.trim().split('\n')[0],
    truncatedInPlaceOldViewPastEnd: truncate.signal ?? `exit ${truncate.status}`,
    compactWhileAReaderHoldsIt: held.stdout.trim(),
    readerUnaffected: stillGood,
  };
  report.record('files changed underneath a live reader', unchanged && out.truncatedInPlaceReopen === 'WK_BAD_FORMAT' && out.compactWhileAReaderHoldsIt === 'WK_LOCKED' && stillGood, out);
}

if (wanted('concurrent writers')) {
  const path = join(work, 'writers.xpwc');
  let merged = 0, bad = 0;
  const rounds = 10;
  for (let round = 0; round < rounds; round++) {
    rmSync(path, { force: true });
    const ps = [0, 1, 2, 3].map((i) => start('write-once', { MODEL: small, CACHE: path, NS: `w${i}/` }));
    const codes = await Promise.all(ps.map((x) => x.exit));
    const names = (await PackedWeightsCache.inspectFile(path)).entries.map((e) => e.name);
    if (codes.every((c) => c.code === 0) && [0, 1, 2, 3].every((i) => names.filter((n) => n.startsWith(`w${i}/`)).length === 4)) merged++;
    bad += (await PackedWeightsCache.verifyFile(path)).bad.length;
  }
  report.record('4 concurrent writers on one cache (waiting for the lock)', merged === rounds && bad === 0, { rounds, everyWritersEntriesKept: merged, damagedEntries: bad });
}

if (wanted('lock contention')) {
  // 8 processes on one cache: 6 writers (at least 200 saves in all, or
  // --trials), a compactor in a loop, and a writer killed with SIGKILL at
  // random and restarted. Every save a writer reported must be in the file at
  // the end; a watchdog per process turns a hang into a failure.
  const path = join(work, 'contended.xpwc');
  const writers = 6;
  const iter = Math.ceil(Math.max(200, trials) / writers);
  const deadline = 300_000;
  const t0 = Date.now();
  const saved = new Set<string>();
  let fallback = 0, hangs = 0, kills = 0;
  const collect = (x: ReturnType<typeof start>) => {
    let text = '';
    x.p.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const lines = text.split('\n');
      text = lines.pop()!;
      for (const l of lines) {
        const [, ns, fb] = l.split(' ');
        saved.add(ns!);
        fallback += Number(fb);
      }
    });
    const watchdog = setTimeout(() => { hangs++; x.p.kill('SIGKILL'); }, deadline);
    return x.exit.finally(() => clearTimeout(watchdog));
  };
  const compactor = start('compact-loop', { CACHE: path }, 'pipe');
  let compactions = 0;
  compactor.p.stdout!.on('data', (d: Buffer) => (compactions += d.toString().split('compacted').length - 1));
  const ps = Array.from({ length: writers }, (_, i) => collect(start('contend', { MODEL: small, CACHE: path, NS: `c${i}.`, ITER: String(iter) }, 'pipe')));
  const done = Promise.all(ps);
  let finished = false;
  void done.then(() => (finished = true));
  // The victim: killed at random instants, started again, until the writers finish.
  for (let round = 0; !finished && Date.now() - t0 < deadline; round++) {
    const victim = start('contend', { MODEL: small, CACHE: path, NS: `k${round}.`, ITER: '1000' }, 'pipe');
    const exit = collect(victim);
    await sleep(100 + rand(400));
    victim.p.kill('SIGKILL');
    kills++;
    await exit;
  }
  await done;
  compactor.p.kill('SIGKILL');
  await compactor.exit;
  const present = new Set((await PackedWeightsCache.inspectFile(path)).entries.map((e) => e.name.slice(0, e.name.indexOf('/'))));
  const lost = [...saved].filter((ns) => !present.has(ns)).length;
  const bad = (await PackedWeightsCache.verifyFile(path)).bad.length;
  const writerSaves = [...saved].filter((ns) => ns.startsWith('c')).length;
  report.record('8 processes on one cache: writers, a compactor, kill -9', hangs === 0 && lost === 0 && bad === 0 && fallback === 0 && writerSaves === writers * iter, {
    processes: writers + 2, savesReported: saved.size, writerSaves, compactions, kills, hangs, lostSaves: lost, heapFallbackBytes: fallback, damagedEntries: bad,
    seconds: Math.round((Date.now() - t0) / 1000),
  });
}

if (wanted('soak')) {
  // Issue 23: a TF.js map kept one mapping per open/close cycle until the event
  // loop went idle. 100,000 cycles (--trials x 1,000) of each format in one loop.
  const cycles = trials * 1000;
  const faceApi = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');
  const pt2 = join(work, 'soak.pt2');
  const src = SafetensorsMap.openSync(small);
  await writePt2(pt2, src);
  src.close();
  for (const [format, path] of [['safetensors', medium], ['TF.js', join(faceApi, 'face_landmark_68_tiny_model-weights_manifest.json')], ['AOTI .pt2', pt2]] as const) {
    const r = runChild('soak', { MODEL: path, CYCLES: String(cycles) });
    let out: Record<string, unknown>;
    try {
      out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    } catch {
      out = { error: (r.stderr || '').slice(-500), signal: r.signal };
    }
    // One open map's mappings at most, whatever the cycle count; RSS flat (32 MiB of noise, under 0.7 KiB a cycle) between the halves.
    const ok = r.signal === null && r.status === 0 && (out.mappingsAtEnd as number) <= (out.mappingsBefore as number) &&
      (out.mappingsAfterHalf as number) <= (out.mappingsBefore as number) && (out.rssGrowthSecondHalfMiB as number) < 32;
    report.record(`${format}: ${cycles} open/read/close cycles leave mappings and RSS flat`, ok, out);
  }
}

if (wanted('folder swap')) {
  // Issue 23: readers of an AOTI folder see model A or model B whole while two
  // writer processes rewrite it (a third of the writes aborted) and a third
  // writer is killed with SIGKILL at random instants.
  const fill = (name: string, byte: number) => {
    const path = join(work, name);
    writeSafetensors(path, Array.from({ length: 50 }, (_, i) => ({ name: `l${i}.weight`, dtype: 'float32' as const, shape: [128, 64], data: (c: Uint8Array) => c.fill(byte) })));
    return path;
  };
  const models = { A: fill('a.safetensors', 0xaa), B: fill('b.safetensors', 0xbb) };
  const folder = join(work, 'swapped');
  const env = { MODEL_A: models.A, MODEL_B: models.B, OUT: folder, ROUNDS: String(Math.max(20, trials / 2)) };
  // The folder exists before any reader looks: written here, never aborted
  // (a folder-writer round may abort, and then there would be nothing to read).
  const seed = SafetensorsMap.openSync(models.A);
  await writeAotiFolder(seed, folder);
  seed.close();
  const writers = [start('folder-writer', env, 'pipe'), start('folder-writer', env, 'pipe')];
  const counts = writers.map((w) => new Promise<string>((r) => { let t = ''; w.p.stdout!.on('data', (d: Buffer) => (t += d)); void w.exit.then(() => r(t.trim())); }));
  let running = writers.length;
  for (const w of writers) void w.exit.then(() => running--);
  const seen = { A: 0, B: 0, mixed: 0, replacedDuringOpen: 0 };
  let kills = 0;
  let victim = start('folder-writer', { ...env, ROUNDS: '1000000' });
  while (running > 0) {
    try {
      const w = AotiWeights.openSync(folder);
      const named = w.wrapperMetadata.WEIGHTKIT_SOURCE === 'a.safetensors' ? 'A' : 'B';
      const want = named === 'A' ? 0xaa : 0xbb;
      seen[w.keys().every((k) => w.bytes(k).every((x) => x === want)) ? named : 'mixed']++;
      w.close();
    } catch (e) {
      if ((e as { code?: string }).code !== 'WK_LOCKED') throw e;
      seen.replacedDuringOpen++;
    }
    if (rand(40) === 0) {
      victim.p.kill('SIGKILL');
      await victim.exit;
      kills++;
      victim = start('folder-writer', { ...env, ROUNDS: '1000000' });
    }
    await new Promise((r) => setImmediate(r));
  }
  victim.p.kill('SIGKILL');
  await victim.exit;
  const [c1, c2] = await Promise.all(counts);
  const leftByKills = readdirSync(work).filter((f) => f.startsWith('swapped.wk-tmp-')).length;
  // The next writer of the folder removes what killed writers left.
  const a = SafetensorsMap.openSync(models.A);
  await writeAotiFolder(a, folder);
  a.close();
  const temporaries = readdirSync(work).filter((f) => f.startsWith('swapped.wk-tmp-')).length;
  report.record('readers of an AOTI folder rewritten by 3 writers (aborts, kill -9) see A or B whole', seen.mixed === 0 && seen.A + seen.B > 0 && temporaries === 0, {
    opens: seen.A + seen.B + seen.replacedDuringOpen, ...seen, writerRounds: `${c1} / ${c2} (written aborted locked)`, kills,
    temporariesLeftByKills: leftByKills, temporariesAfterTheNextWrite: temporaries,
  });
}

if (wanted('linear time')) {
  for (const r of await linearTime(work)) report.record(`${r.parser}: time grows linearly with the input, 1 to 64 MiB`, r.ok, r.detail);
}

rmSync(work, { recursive: true, force: true });
process.exit(report.finish(args));
