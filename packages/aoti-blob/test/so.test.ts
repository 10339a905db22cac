// Weights inside or after a real shared object, built here with gcc.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AotiWeights } from '@weightkit/aoti-blob';
import { handWrapper, tempDir } from './fixtures.js';

const dir = tempDir();
const MAGIC = 0x1234567890abcdefn;
const consts = [
  { name: 'w', dtype: 'float32', shape: [4, 4], stride: [4, 1], dataSize: 64 },
  { name: 'b', dtype: 'int32', shape: [4], stride: [1], dataSize: 64 },
];
const payload = new Uint8Array(128);
payload.set(new Uint8Array(new Float32Array(16).map((_, i) => i / 2).buffer), 0);
payload.set(new Uint8Array(new Int32Array([7, -7, 70, -70]).buffer), 64);

function le64(v: bigint): number[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return [...b];
}

function buildSo(sub: string, source: string, ext: 'c' | 'S'): string {
  const d = join(dir, sub);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, `stub.${ext}`), source);
  writeFileSync(join(d, 'model.wrapper.cpp'), handWrapper(consts));
  const so = join(d, 'model.wrapper.so');
  // noexecstack: the assembly stub has no .note.GNU-stack, and ld warns of it.
  execFileSync('gcc', ['-shared', '-fPIC', '-Wl,-z,noexecstack', '-o', so, join(d, `stub.${ext}`)], { cwd: d });
  return so;
}

/** USE_MMAP_SELF: [.so][spaces to a 16 KiB boundary][payload][i64 magic]. */
function appendPayload(so: string, magic = MAGIC): void {
  const size = statSync(so).size;
  const P = 16384;
  const pad = P - (size % P);
  appendFileSync(so, Buffer.alloc(pad, 0x20));
  appendFileSync(so, payload);
  appendFileSync(so, Buffer.from(le64(magic)));
}

describe('.so weights', () => {
  it('finds an appended payload through _binary_constants_bin_start (USE_MMAP_SELF)', async () => {
    const sym = [...le64(BigInt(payload.length + 8)), ...le64(MAGIC)].join(', ');
    const so = buildSo('appended', `const unsigned char _binary_constants_bin_start[16] __attribute__((used)) = {${sym}};\n`, 'c');
    appendPayload(so);
    const w = await AotiWeights.open(so);
    expect(w.source.kind).toBe('so');
    expect(w.source.offset % 16384).toBe(0);
    expect(w.source.offset).toBe(statSync(so).size - 8 - payload.length);
    expect([...w.get('b')]).toEqual([7, -7, 70, -70]);
    expect([...w.get('w')].slice(0, 3)).toEqual([0, 0.5, 1]);
    w.close();
  });

  it('accepts the appended size and magic from the caller', async () => {
    const so = buildSo('given', 'int unrelated(void) { return 1; }\n', 'c');
    appendPayload(so);
    await expect(AotiWeights.open(so)).rejects.toMatchObject({ code: 'WK_NOT_FOUND' });
    const w = await AotiWeights.open(so, { appendedSize: BigInt(payload.length + 8), appendedMagic: MAGIC });
    expect([...w.get('b')]).toEqual([7, -7, 70, -70]);
    w.close();
  });

  it('refuses a wrong trailing magic', async () => {
    const sym = [...le64(BigInt(payload.length + 8)), ...le64(MAGIC)].join(', ');
    const so = buildSo('badmagic', `const unsigned char _binary_constants_bin_start[16] __attribute__((used)) = {${sym}};\n`, 'c');
    appendPayload(so, 0xdeadbeefn);
    await expect(AotiWeights.open(so)).rejects.toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/magic/) });
  });

  it('reads weights embedded in the .so between _binary_constants_bin_start and _end', async () => {
    const d = join(dir, 'embedded');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'payload.bin'), payload);
    const so = buildSo('embedded', [
      '.section .rodata', '.balign 64', '.globl _binary_constants_bin_start', '_binary_constants_bin_start:',
      '.incbin "payload.bin"', '.globl _binary_constants_bin_end', '_binary_constants_bin_end:', '',
    ].join('\n'), 'S');
    const w = AotiWeights.openSync(so);
    expect(Buffer.from(w.payload()).equals(Buffer.from(payload))).toBe(true);
    expect(Buffer.from(readFileSync(so).subarray(w.source.offset, w.source.offset + 128)).equals(Buffer.from(payload))).toBe(true);
    w.close();
  });

  it('checks an external blob against the size the .so expects', async () => {
    buildSo('external', `const unsigned char _binary_constants_bin_start[8] __attribute__((used)) = {${le64(999n).join(', ')}};\n`, 'c');
    writeFileSync(join(dir, 'external', 'model.wrapper_weights.blob'), payload);
    await expect(AotiWeights.open(join(dir, 'external'))).rejects.toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/expects a 999-byte/) });
  });
});
