// The red-team findings of issue 15, each as a test against real files, real
// FIFOs, real sparse files, real processes and (as root) a real second user:
// no hang, no crash, no way around the checks.
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WeightkitError, openNamedDataMap, writeSafetensors } from '@weightkit/core';
import { writeAotiFolder } from '@weightkit/aoti-blob';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { modelDir, tempDir, weightkit } from './cli-harness.js';

const dir = tempDir('wk-reliability-');

/**
 * This Node.js binary, and core and xnnpack-cache as installed (package.json,
 * dist/, the built addon), under `root`, readable by any user: the checkout
 * (and CI's Node.js 22 and 24, kept inside it) may sit in a folder only its
 * owner can enter (a mktemp -d clone). Returns the binary and the cache
 * package's entry.
 */
function forAnotherUser(root: string): { node: string; entry: string } {
  for (const pkg of ['core', 'xnnpack-cache']) {
    const from = dirname(fileURLToPath(import.meta.resolve(`@weightkit/${pkg}/package.json`)));
    const to = join(root, 'node_modules', '@weightkit', pkg);
    cpSync(join(from, 'package.json'), join(to, 'package.json'));
    cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
    const addon = readdirSync(join(from, 'build', 'Release')).find((f) => f.endsWith('.node'))!;
    cpSync(join(from, 'build', 'Release', addon), join(to, 'build', 'Release', addon));
  }
  cpSync(process.execPath, join(root, 'node'));
  spawnSync('chmod', ['-R', 'o+rX', root]);
  return { node: join(root, 'node'), entry: pathToFileURL(join(root, 'node_modules', '@weightkit', 'xnnpack-cache', 'dist', 'index.js')).href };
}
const tiny = join(modelDir, 'tiny_face_detector_model-weights_manifest.json');
const isRoot = process.getuid?.() === 0;

/** Runs `script` (an ES module body) in a fresh Node with a deadline; a hang is a failure, not a stuck suite. */
function node(script: string, env: Record<string, string> = {}, timeoutMs = 20_000) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
  return { ...r, hung: r.signal === 'SIGTERM' && r.status === null };
}

function fifo(name: string): string {
  const path = join(dir, name);
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
  return path;
}

describe('a FIFO as input is refused at once, never waited on', () => {
  const opens: [string, string][] = [
    ['openNamedDataMap', "const { openNamedDataMap } = await import('@weightkit/core'); await openNamedDataMap(P);"],
    ['SafetensorsMap.open', "const { SafetensorsMap } = await import('@weightkit/core'); await SafetensorsMap.open(P);"],
    ['SafetensorsMap.openSync', "const { SafetensorsMap } = await import('@weightkit/core'); SafetensorsMap.openSync(P);"],
    ['TfjsMap.open', "const { TfjsMap } = await import('@weightkit/core'); await TfjsMap.open(P);"],
    ['FileMapping.open', "const { FileMapping } = await import('@weightkit/core'); await FileMapping.open(P);"],
    ['PackedWeightsCache.open', "const { PackedWeightsCache } = await import('@weightkit/xnnpack-cache'); await PackedWeightsCache.open({ path: P });"],
    ['AotiWeights.open', "const { AotiWeights } = await import('@weightkit/aoti-blob'); await AotiWeights.open(P);"],
  ];
  for (const [what, body] of opens) {
    it(what, () => {
      const path = fifo(`${what}.fifo`);
      const r = node(`const P = process.env.P; try { ${body} console.log('opened'); } catch (e) { console.log(e.code); }`, { P: path });
      expect(r.hung, `${what} waited on the FIFO`).toBe(false);
      expect(r.stdout.trim()).toBe('WK_BAD_ARGUMENT');
    });
  }

  it('a TF.js shard that is a FIFO', () => {
    const folder = join(dir, 'fifo-shard');
    mkdirSync(folder);
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w', shape: [2], dtype: 'float32' }] }] }));
    spawnSync('mkfifo', [join(folder, 'w.bin')]);
    const r = node("const { openNamedDataMap } = await import('@weightkit/core'); try { await openNamedDataMap(process.env.P); } catch (e) { console.log(e.code); }", { P: join(folder, 'model.json') });
    expect(r.hung).toBe(false);
    expect(r.stdout.trim()).toMatch(/^WK_(BAD_ARGUMENT|BAD_FORMAT)$/);
  });

  it('every CLI command given a FIFO', () => {
    const path = fifo('cli.fifo');
    for (const argv of [['inspect', path], ['cache', 'pack', path, '--cache', join(dir, 'c.xpwc')], ['cache', 'inspect', path], ['aoti', 'inspect', path],
      ['offload', 'plan', path, '--budget-mb', '4'], ['aoti', 'convert', path, '--out', join(dir, 'x.pt2')]]) {
      const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'dist', 'src', 'bin', 'weightkit.js'), ...argv], { encoding: 'utf8', timeout: 20_000 });
      expect(r.signal, argv.join(' ')).toBeNull();
      expect(r.status, `${argv.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^error\[WK_BAD_ARGUMENT\].*not a regular file/);
    }
  });
});

describe('paths stay inside the model folder', () => {
  it('a TF.js shard behind a symlinked folder (etc -> /etc) is refused', async () => {
    const folder = join(dir, 'tfjs-escape');
    mkdirSync(folder);
    symlinkSync('/etc', join(folder, 'etc'));
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['etc/passwd'], weights: [{ name: 'w', shape: [4], dtype: 'float32' }] }] }));
    await expect(openNamedDataMap(join(folder, 'model.json'))).rejects.toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/is a link to '.*', outside the model's folder/) });
  });

  it('an AOTI folder whose data/ is a symlink to another model is refused', async () => {
    const outside = join(dir, 'aoti-outside');
    const map = await openNamedDataMap(tiny);
    await writeAotiFolder(map, join(outside, 'data', 'aotinductor', 'model'));
    map.close();
    const folder = join(dir, 'aoti-link');
    mkdirSync(folder);
    symlinkSync(join(outside, 'data'), join(folder, 'data'));
    await expect(openNamedDataMap(folder)).rejects.toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/outside the model folder/) });
    expect((await openNamedDataMap(outside)).keys()).toHaveLength(19);
  });
});

describe('sparse files with a huge apparent size allocate by what is there, not by what they declare', () => {
  /** Peak RSS (MiB) of a process that tries to open `path` with `open`, and its answer. */
  function attempt(open: string, path: string) {
    const r = node(`const { readFileSync } = await import('node:fs');
let code = 'opened'; try { ${open} } catch (e) { code = e.code ?? String(e); }
console.log(JSON.stringify({ code, peakMiB: Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024 }));`, { P: path });
    expect(r.hung).toBe(false);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { code: string; peakMiB: number };
  }

  function sparse(name: string, size: number, pieces: [number, Buffer][]): string {
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    ftruncateSync(fd, size);
    for (const [at, bytes] of pieces) writeSync(fd, bytes, 0, bytes.length, at);
    closeSync(fd);
    return path;
  }

  it('a .pt2 whose central directory claims 1.9 GB', () => {
    const size = 2 * 2 ** 30;
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(65000, 8);
    eocd.writeUInt16LE(65000, 10);
    eocd.writeUInt32LE(1_900_000_000, 12);
    eocd.writeUInt32LE(size - 22 - 1_900_000_000, 16);
    const r = attempt("const { AotiWeights } = await import('@weightkit/aoti-blob'); await AotiWeights.open(process.env.P);",
      sparse('huge-cd.pt2', size, [[0, Buffer.from('PK\x03\x04')], [size - 22, eocd]]));
    expect(r.code).toBe('WK_BAD_FORMAT');
    expect(r.peakMiB).toBeLessThan(300);
  });

  it('a .so whose symbol and string tables claim 1.9 GB', () => {
    const size = 4 * 2 ** 30;
    const eh = Buffer.alloc(64);
    eh.write('\x7fELF', 0, 'latin1');
    eh[4] = 2;
    eh[5] = 1;
    eh.writeBigUInt64LE(4096n, 0x28);
    eh.writeUInt16LE(64, 0x3a);
    eh.writeUInt16LE(3, 0x3c);
    const sh = Buffer.alloc(3 * 64);
    const section = (i: number, type: number, offset: number, bytes: number, link: number, entsize: number) => {
      sh.writeUInt32LE(type, i * 64 + 4);
      sh.writeBigUInt64LE(BigInt(offset), i * 64 + 24);
      sh.writeBigUInt64LE(BigInt(bytes), i * 64 + 32);
      sh.writeUInt32LE(link, i * 64 + 40);
      sh.writeBigUInt64LE(BigInt(entsize), i * 64 + 56);
    };
    section(1, 2, 8192, 1_900_000_008, 2, 24); // SHT_SYMTAB, zeros: no name matches
    section(2, 3, 2 ** 31, 1_900_000_000, 0, 0); // SHT_STRTAB
    const r = attempt("const { AotiWeights } = await import('@weightkit/aoti-blob'); await AotiWeights.open(process.env.P);",
      sparse('huge-tables.so', size, [[0, eh], [4096, sh]]));
    expect(r.code).not.toBe('opened');
    expect(r.peakMiB).toBeLessThan(300);
  });

  it('an XPWC file whose index claims 1.9 GB', () => {
    const size = 2 * 2 ** 30;
    const footer = Buffer.alloc(20);
    footer.writeBigUInt64LE(64n, 0);
    footer.writeUInt32LE(4_000_000, 8);
    footer.writeUInt32LE(0x58505743, 12);
    footer.writeUInt32LE(2, 16);
    const path = sparse('huge-index.xpwc', size, [[size - 20, footer]]);
    const r = attempt("const { PackedWeightsCache } = await import('@weightkit/xnnpack-cache'); await PackedWeightsCache.inspectFile(process.env.P);", path);
    expect(r.code).toMatch(/^WK_(UNSUPPORTED|BAD_FORMAT)$/);
    expect(r.peakMiB).toBeLessThan(300);
  });
});

describe('the CLI never lets a file forge its output', () => {
  it('a name with a newline and escape codes stays on one line of the error', () => {
    const path = join(dir, 'forged.safetensors');
    const header = JSON.stringify({ 'x\nerror[WK_IO]: forged \u001b[31mred': { dtype: 'F32', shape: [4], data_offsets: [0, 12] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
    writeFileSync(path, Buffer.concat([len, Buffer.from(header), Buffer.alloc(12)]));
    const r = weightkit('inspect', path);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('x\\nerror[WK_IO]: forged \\u001b[31mred');
    expect(r.stderr).not.toContain('\u001b');
  });

  it('a TF.js manifest nested 200,000 deep is a WK_BAD_FORMAT, through the API and the CLI', async () => {
    const path = join(dir, 'deep.json');
    writeFileSync(path, '['.repeat(200_000) + ']'.repeat(200_000));
    await expect(openNamedDataMap(path)).rejects.toBeInstanceOf(WeightkitError);
    const r = weightkit('inspect', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_BAD_FORMAT\]/);
    expect(r.stderr).not.toMatch(/RangeError|at /);
  });

  it('inspect prints a table of 130,000 tensors', () => {
    const path = join(dir, 'many.safetensors');
    writeSafetensors(path, Array.from({ length: 130_000 }, (_, i) => ({ name: `t${i}`, dtype: 'uint8' as const, shape: [1], data: new Uint8Array([i & 255]) })));
    const r = weightkit('inspect', path);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^130000 tensors, 130000 bytes/m);
  });

  it('cache pack with the model as the cache leaves the model untouched', () => {
    const path = join(dir, 'self.safetensors');
    writeSafetensors(path, [{ name: 'w', dtype: 'float32', shape: [8, 8], data: (c: Uint8Array) => c.fill(3) }]);
    const before = readFileSync(path);
    const r = weightkit('cache', 'pack', path, '--cache', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_BAD_FORMAT\].*not an XPWC packed-weights cache/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});

describe('numbers out of range are refused, never coerced or crashed on', () => {
  it('offload run flags', () => {
    for (const [flag, value] of [['--compute-us', '1e300'], ['--compute-us-per-mib', '1e300'], ['--h2d-gbps', '1e-300'], ['--budget-mb', '1e300'],
      ['--passes', '4294967297'], ['--prefetch-mb=-1', ''], ['--compute-us', 'NaN']]) {
      const args = ['offload', 'run', tiny, '--budget-mb', '1', '--passes', '1', flag!, ...(value ? [value] : [])];
      const r = weightkit(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^error\[WK_BAD_ARGUMENT\]: --[a-z0-9-]+ must be/);
    }
  });
});

describe('API misuse from JavaScript is a WeightkitError, never a TypeError from inside', () => {
  it('each documented entry point given the wrong kind of value', async () => {
    const core = await import('@weightkit/core');
    const { AotiWeights, writePt2 } = await import('@weightkit/aoti-blob');
    const { OffloadRuntime, plan } = await import('@weightkit/cuda-offload');
    const cache = await PackedWeightsCache.open({ path: '' });
    const map = await openNamedDataMap(tiny);
    const bad: [string, () => unknown][] = [
      ['openNamedDataMap(123)', () => core.openNamedDataMap(123 as never)],
      ['BackendOptions.fromEnv(null)', () => core.BackendOptions.fromEnv(null as never)],
      ['writeSafetensors(path, null)', () => core.writeSafetensors(join(dir, 'n.safetensors'), null as never)],
      ['PackedWeightsCache.open(null)', () => PackedWeightsCache.open(null as never)],
      ['packModel(null)', () => cache.packModel(null as never)],
      ['packModel({})', () => cache.packModel({} as never)],
      ['writePt2(path, null)', () => writePt2(join(dir, 'n.pt2'), null as never)],
      ['AotiWeights.open(5)', () => AotiWeights.open(5 as never)],
      ['OffloadRuntime.create(null)', () => OffloadRuntime.create(null as never)],
      ['OffloadRuntime.create({ weights: null })', () => OffloadRuntime.create({ weights: null as never })],
      ['plan(null)', () => plan(null as never, undefined, 1)],
      ['plan(map, "x")', () => plan(map, 'x' as never, 1)],
      ['map.get(1)', () => map.get(1 as never)],
    ];
    for (const [what, call] of bad) {
      let thrown: unknown;
      try {
        await call();
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(WeightkitError);
    }
    map.close();
    await cache.close();
  });
});

describe('no hang: opens racing compactions and failing opens', () => {
  it('opening, packing and saving while another process compacts the same cache, 30 times', async () => {
    const cachePath = join(dir, 'raced.xpwc');
    const model = join(dir, 'raced.safetensors');
    writeSafetensors(model, Array.from({ length: 4 }, (_, i) => ({ name: `l${i}.weight`, dtype: 'float32' as const, shape: [64, 64], data: (c: Uint8Array) => c.fill(i) })));
    const loop = spawnSync('sh', ['-c', 'true']);
    expect(loop.status).toBe(0);
    const compactor = (await import('node:child_process')).spawn(process.execPath, ['--input-type=module', '-e',
      "const { PackedWeightsCache } = await import('@weightkit/xnnpack-cache'); for (;;) { try { await PackedWeightsCache.compactFile(process.env.C); } catch {} }"],
    { env: { ...process.env, C: cachePath }, stdio: 'ignore' });
    try {
      for (let i = 0; i < 30; i++) {
        const r = node(`const { SafetensorsMap } = await import('@weightkit/core'); const { PackedWeightsCache } = await import('@weightkit/xnnpack-cache');
const map = SafetensorsMap.openSync(process.env.M);
try { const c = await PackedWeightsCache.open({ path: process.env.C, lockWaitMs: 2000 }); c.initialize(); await c.packModel(map, { namespace: 'n${i}/' }); c.finalize(); await c.save(); await c.close(); console.log('ok'); }
catch (e) { console.log(e.code); }`, { M: model, C: cachePath }, 30_000);
        expect(r.hung, `round ${i} hung`).toBe(false);
        expect(r.stdout.trim()).toMatch(/^(ok|WK_LOCKED)$/);
      }
    } finally {
      compactor.kill('SIGKILL');
    }
    const info = await PackedWeightsCache.inspectFile(cachePath);
    expect(info.footerAtEof).toBe(true);
  });

  it.skipIf(!isRoot)('(as a second user) a damaged cache in a folder that user cannot write: the open returns, the file stays', () => {
    const user = 'wkreliability';
    spawnSync('useradd', ['--system', '--no-create-home', user]);
    const folder = join(dir, 'locked-folder');
    mkdirSync(folder, { mode: 0o755 });
    const damaged = join(folder, 'damaged.xpwc');
    writeFileSync(damaged, Buffer.concat([Buffer.alloc(4096, 7), Buffer.from('not a trailer at all.')]));
    spawnSync('chmod', ['o+rx', dir]);
    const { node, entry } = forAnotherUser(join(dir, 'second-user'));
    const r = spawnSync('runuser', ['-u', user, '--', node, '--input-type=module', '-e',
      `const { PackedWeightsCache } = await import(${JSON.stringify(entry)});
try { const c = await PackedWeightsCache.open({ path: process.env.C }); console.log('heap:' + c.stats().readOnly); await c.close(); } catch (e) { console.log(e.code); }
for (let i = 0; i < 3; i++) { try { const c = await PackedWeightsCache.open({ path: process.env.C }); await c.close(); } catch {} }
console.log('done');`], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, C: damaged } });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.stdout.trim().split('\n').at(-1)).toBe('done');
    expect(readFileSync(damaged).subarray(4096).toString()).toBe('not a trailer at all.');
  });
});
