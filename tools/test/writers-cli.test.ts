// The writing commands as users meet them (issue 23): an output that is not a
// regular file is refused, Ctrl-C leaves nothing behind and exits 130, and a
// full disk leaves no empty folder. Real processes, real signals, a real tmpfs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, weightkit } from './cli-harness.js';

const dir = tempDir('wk-writers-cli-');
const isRoot = process.getuid?.() === 0;
const bin = join(dirname(createRequire(import.meta.url).resolve('@weightkit/tools/package.json')), 'dist', 'src', 'bin', 'weightkit.js');

describe('an output that is not a regular file is refused, never replaced', () => {
  it('synth --out <FIFO> and (as root) --out <a character device like /dev/null>', () => {
    const fifo = join(dir, 'out.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const targets = [fifo];
    if (isRoot) {
      // A node of its own for /dev/null's device (1,3), so a failure cannot harm the real one.
      const devnull = join(dir, 'null');
      expect(spawnSync('mknod', [devnull, 'c', '1', '3']).status).toBe(0);
      targets.push(devnull);
    }
    for (const out of targets) {
      const r = weightkit('synth', '--size', '64KiB', '--out', out);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^error\[WK_BAD_ARGUMENT\]: '.*' is a (FIFO|device), not a regular file/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
      const st = lstatSync(out);
      expect(st.isFIFO() || st.isCharacterDevice()).toBe(true);
    }
    expect(readdirSync(dir).filter((n) => n.includes('.wk-tmp-'))).toEqual([]);
  });
});

/** A 4 GiB safetensors model that takes no disk: 8 float32 tensors of 512 MiB, all holes. */
function sparseModel(path: string): string {
  const MiB512 = 512 * 2 ** 20;
  const header: Record<string, unknown> = {};
  for (let i = 0; i < 8; i++) header[`w${i}`] = { dtype: 'F32', shape: [MiB512 / 4], data_offsets: [i * MiB512, (i + 1) * MiB512] };
  const text = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(path, Buffer.concat([prefix, text]));
  truncateSync(path, 8 + text.length + 8 * MiB512);
  return path;
}

describe('Ctrl-C while writing', () => {
  // Both writes take seconds (4 GiB); the child is stopped the moment its
  // temporary appears, so the SIGINT always lands mid-write however busy the machine is.
  for (const [what, args] of [
    ['synth', (out: string) => ['synth', '--size', '4GiB', '--out', `${out}.safetensors`]],
    ['aoti convert into a folder', (out: string) => ['aoti', 'convert', sparseModel(join(dir, 'sparse.safetensors')), '--out', out]],
  ] as const) {
    it(`${what}: exits 130 with "interrupted", the target is not created and no temporary is left`, async () => {
      const out = join(dir, `interrupted-${what.split(' ')[0]}`);
      const child = spawn(process.execPath, [bin, ...args(out)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      while (!readdirSync(dir).some((n) => n.includes('.wk-tmp-'))) await new Promise((r) => setTimeout(r, 2));
      child.kill('SIGSTOP');
      child.kill('SIGINT');
      child.kill('SIGCONT');
      expect(await exited, stderr).toBe(130);
      expect(stderr).toMatch(/interrupted \(SIGINT\); .* was not written/);
      expect(existsSync(out) || existsSync(`${out}.safetensors`)).toBe(false);
      expect(readdirSync(dir).filter((n) => n.includes('.wk-tmp-'))).toEqual([]);
    });
  }
});

describe('a full disk', () => {
  it.runIf(isRoot)('aoti convert into a folder on a full 8 MiB tmpfs: WK_NO_SPACE, and no folder or temporary is left', () => {
    const model = join(dir, 'big.safetensors');
    expect(weightkit('synth', '--size', '16MiB', '--out', model).code).toBe(0);
    const mnt = join(dir, 'mnt');
    writeFileSync(join(dir, 'marker'), '');
    spawnSync('mkdir', [mnt]);
    const r = spawnSync('unshare', ['--mount', 'sh', '-c',
      `mount -t tmpfs -o size=8m tmpfs "$MNT" && "${process.execPath}" "${bin}" aoti convert "$MODEL" --out "$MNT/model"; echo "exit=$?"; ls -A "$MNT"`], {
      encoding: 'utf8', env: { ...process.env, MNT: mnt, MODEL: model }, timeout: 60_000,
    });
    expect(r.stderr).toMatch(/error\[WK_NO_SPACE\]/);
    const [status, ...left] = r.stdout.trim().split('\n');
    expect(status).toBe('exit=1');
    // Only the writer's lock file may remain.
    expect(left.filter((n) => n !== '.model.wk-lock')).toEqual([]);
  });
});

describe('arguments and output of issue 23', () => {
  it('--budget-mb takes decimal numbers only: 0x10, 1e3 and " 16" are refused, not read as 16, 1000 and 16', () => {
    const model = join(dir, 'budget.safetensors');
    expect(weightkit('synth', '--size', '1MiB', '--out', model).code).toBe(0);
    for (const text of ['0x10', '1e3', ' 16', '16MiB!', '']) {
      const r = weightkit('offload', 'plan', model, '--budget-mb', text);
      expect(r.code, text).toBe(1);
      expect(r.stderr).toMatch(/error\[WK_BAD_ARGUMENT\]: --budget-mb must be a number/);
    }
    expect(weightkit('offload', 'plan', model, '--budget-mb', '16').code).toBe(0);
    expect(weightkit('offload', 'plan', model, '--budget-mb', '0.5').code).toBe(0);
  });

  it('bench offload --device cuda --json without a GPU: the error is the first and only line, nothing is written first', () => {
    const r = weightkit('bench', 'offload', '--device', 'cuda', '--json', '--out', join(dir, 'bench-out'), '--work', join(dir, 'bench-work'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error\[WK_DEVICE\]: /)]);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'WK_DEVICE' } });
    expect(existsSync(join(dir, 'bench-work'))).toBe(false);
  });

  it('bidirectional controls in a tensor name are escaped in tables and error lines', () => {
    const path = join(dir, 'bidi.safetensors');
    const name = 'evil\u202eexe.txt\u2066x\u2069';
    const header = Buffer.from(JSON.stringify({ [name]: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(path, Buffer.concat([len, header, Buffer.alloc(4)]));
    const table = weightkit('inspect', path);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('evil\\u202eexe.txt\\u2066x\\u2069');
    expect(table.stdout).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    const err = weightkit('offload', 'plan', path, '--budget-mb', '1', '--json');
    expect(err.stderr).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
  });
});
