import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir, tempDir, weightkit } from './cli-harness.js';

const manifest = join(modelDir, 'tiny_face_detector_model-weights_manifest.json');
const dir = tempDir('wk-cache-cli-');

describe('weightkit cache', () => {
  it('packs, then a second run reports packed 0 and hits = entries, with the documented JSON', () => {
    const cache = join(dir, 'm.xpwc');
    const first = weightkit('cache', 'pack', manifest, '--cache', cache, '--json');
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout);
    expect(Object.keys(a).sort()).toEqual(['entries', 'fileBytes', 'heapFallbackBytes', 'hits', 'millis', 'packed']);
    expect(a.packed).toBe(a.entries);
    expect(a.entries).toBeGreaterThan(5);
    const b = JSON.parse(weightkit('cache', 'pack', manifest, '--cache', cache, '--json').stdout);
    expect(b).toMatchObject({ packed: 0, hits: a.entries, fileBytes: a.fileBytes, heapFallbackBytes: { noSpace: 0, locked: 0, ioError: 0, unsupported: 0, invalidFile: 0, readOnly: 0 } });
  });

  it('inspects, verifies and compacts, and `weightkit inspect` detects cache files', () => {
    const cache = join(dir, 'i.xpwc');
    weightkit('cache', 'pack', manifest, '--cache', cache, '--packer', 'qc8w');
    const doc = JSON.parse(weightkit('cache', 'inspect', cache, '--json').stdout);
    expect(Object.keys(doc).sort()).toEqual(['entries', 'fileBytes', 'orphanBytes', 'version']);
    expect(doc.version).toBe(2);
    expect(Object.keys(doc.entries[0]).sort()).toEqual(['bias', 'kernel', 'name', 'offset', 'seed', 'size']);
    // The stored name is the kernel's with the bias's appended; the table shows them apart.
    expect(doc.entries[0].name).toBe(doc.entries[0].kernel + doc.entries[0].bias);
    expect(doc.entries[0].bias).toMatch(/\/bias$/);
    expect(weightkit('cache', 'inspect', cache).stdout).toContain(`${doc.entries[0].kernel} + ${doc.entries[0].bias}`);
    expect(weightkit('cache', 'verify', cache).code).toBe(0);
    expect(JSON.parse(weightkit('inspect', cache, '--json').stdout).format).toBe('xpwc');
    expect(weightkit('cache', 'compact', cache).code).toBe(0);
    // Damage one entry: verify exits 1 with error[WK_CORRUPT].
    const raw = readFileSync(cache);
    raw[doc.entries[0].offset + 3]! ^= 0x55;
    writeFileSync(cache, raw);
    const v = weightkit('cache', 'verify', cache);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/^error\[WK_CORRUPT\]/);
  });

  it('refuses malformed files and bad arguments with error[CODE]', () => {
    const junk = join(dir, 'junk.xpwc');
    writeFileSync(junk, Buffer.alloc(100, 1));
    const r = weightkit('cache', 'inspect', junk);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_BAD_FORMAT\]/);
    expect(weightkit('cache', 'pack', manifest).stderr).toMatch(/^error\[WK_BAD_ARGUMENT\]: --cache/);
    expect(weightkit('cache', 'pack', manifest, '--cache', join(dir, 'x.xpwc'), '--packer', 'q4').code).toBe(1);
    expect(weightkit('cache').code).toBe(2);
  });

  it('the demo packs cold, then reuses in a fresh process with clean pages', () => {
    const r = weightkit('demo');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cold \(packs\)\s+[\d.]+\s+30\s+0\s+[\d.]+ MiB\s+0 B\s+[\d.]+ MiB/);
    expect(r.stdout).toMatch(/warm \(maps\)\s+[\d.]+\s+0\s+30\s/);
  });
});
