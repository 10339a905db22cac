// The CLI as users run it: a real `weightkit` process, its stdout, stderr and exit code.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir, tempDir, weightkit } from './cli-harness.js';

const dir = tempDir('wk-cli-');

describe('weightkit inspect', () => {
  it('lists the 117 tensors of face_recognition with the manifest shapes as JSON', () => {
    const manifest = join(modelDir, 'face_recognition_model-weights_manifest.json');
    const r = weightkit('inspect', manifest, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as { format: string; tensors: { name: string; dtype: string; shape: number[]; byteLength: number }[]; totalBytes: number };
    const expected = (JSON.parse(readFileSync(manifest, 'utf8')) as { weights: { name: string; shape: number[] }[] }[])[0]!.weights;
    expect(doc.format).toBe('tfjs');
    expect(doc.tensors).toHaveLength(117);
    expect(doc.tensors.map((t) => [t.name, t.shape])).toEqual(expected.map((w) => [w.name, w.shape]));
    expect(doc.totalBytes).toBe(statSync(join(modelDir, 'face_recognition_model.bin')).size);
    expect(Object.keys(doc).sort()).toEqual(['format', 'tensors', 'totalBytes']);
  });

  it('prints a table with totals for humans', () => {
    const r = weightkit('inspect', join(modelDir, 'tiny_face_detector_model-weights_manifest.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^name\s+dtype\s+shape\s+bytes$/m);
    expect(r.stdout).toMatch(/^19 tensors, 193321 bytes/m);
  });

  it('exits 1 with error[CODE] on refused input, 2 on usage errors', () => {
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, Buffer.from([255, 0, 0, 0, 0, 0, 0, 0, 123]));
    let r = weightkit('inspect', junk);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_BAD_FORMAT\]: safetensors: header length 255 is larger/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    r = weightkit('inspect', join(dir, 'missing.safetensors'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_NOT_FOUND\]/);
    r = weightkit('inspect');
    expect(r.code).toBe(2);
    r = weightkit('inspect', 'a', '--bogus');
    expect(r.code).toBe(2);
    r = weightkit('frobnicate');
    expect(r.code).toBe(2);
    expect(weightkit('--help').code).toBe(0);
  });

  it('names a missing or unknown subcommand with exit 2, including names Object.prototype has', () => {
    for (const command of ['aoti', 'cache', 'offload']) {
      let r = weightkit(command);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`missing ${command} command`);
      for (const sub of ['frob', 'toString', '__proto__']) {
        r = weightkit(command, sub);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`unknown ${command} command '${sub}'`);
      }
    }
  });
});

describe('the CLI around the commands', () => {
  it('prints its version, and help for one command', () => {
    const version = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V', 'version']) {
      const r = weightkit(flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`weightkit ${version}\n`);
    }
    const r = weightkit('help', 'cache');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: weightkit cache pack/);
    expect(weightkit('help', 'cahce').stderr).toContain("unknown command 'cahce' (did you mean 'cache'?)");
  });

  it('suggests the command or option meant', () => {
    let r = weightkit('inspct', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^unknown command 'inspct' \(did you mean 'inspect'\?\)/);
    r = weightkit('inspect', 'x', '--jsno');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Unknown option '--jsno' \(did you mean '--json'\?\)/);
    r = weightkit('zzzzzzzz');
    expect(r.stderr).not.toContain('did you mean');
  });

  it('with --json, a failure is also an error object on stdout', () => {
    let r = weightkit('inspect', join(dir, 'missing.safetensors'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'WK_NOT_FOUND', message: expect.stringContaining('missing.safetensors') } });
    expect(r.stderr).toMatch(/^error\[WK_NOT_FOUND\]/);
    r = weightkit('inspect', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'WK_BAD_ARGUMENT', message: 'expected 1 argument, got 0' } });
  });

  it('--quiet drops progress lines, never results or errors', () => {
    const out = join(dir, 'quiet.safetensors');
    const loud = weightkit('synth', '--size', '64MiB', '--out', out);
    const quiet = weightkit('synth', '--size', '64MiB', '--out', out, '--quiet');
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(loud.stdout);
    const r = weightkit('inspect', join(dir, 'missing.safetensors'), '-q');
    expect(r.stderr).toMatch(/^error\[WK_NOT_FOUND\]/);
  });
});

describe('weightkit synth', () => {
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

  it('writes a deterministic decoder-style model of about the requested size', () => {
    const a = join(dir, 'a.safetensors');
    const b = join(dir, 'b.safetensors');
    expect(weightkit('synth', '--size', '4MiB', '--out', a).code).toBe(0);
    expect(weightkit('synth', '--size', '4MiB', '--out', b).code).toBe(0);
    expect(sha(a)).toBe(sha(b));
    const size = statSync(a).size;
    expect(size).toBeGreaterThan(4 * 1024 * 1024 * 0.8);
    expect(size).toBeLessThan(4 * 1024 * 1024 * 1.2);
    const doc = JSON.parse(weightkit('inspect', a, '--json').stdout) as { tensors: { name: string; dtype: string }[] };
    const names = doc.tensors.map((t) => t.name);
    expect(names).toContain('model.embed_tokens.weight');
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('model.layers.0.self_attn.q_proj.bias');
    expect(names).toContain('model.layers.0.mlp.down_proj.weight');
    expect(names).toContain('model.norm.weight');
  });

  it('writes f16 and bf16 at half the bytes', () => {
    const f16 = join(dir, 'h.safetensors');
    const r = weightkit('synth', '--size', '1MiB', '--out', f16, '--dtype', 'bf16', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { dtype: string; totalBytes: number };
    expect(doc.dtype).toBe('bfloat16');
    const inspect = JSON.parse(weightkit('inspect', f16, '--json').stdout) as { tensors: { dtype: string }[]; totalBytes: number };
    expect(new Set(inspect.tensors.map((t) => t.dtype))).toEqual(new Set(['bfloat16']));
    expect(inspect.totalBytes).toBe(doc.totalBytes);
  });

  it('refuses bad sizes and dtypes', () => {
    expect(weightkit('synth', '--size', 'lots', '--out', join(dir, 'x.safetensors')).stderr).toMatch(/^error\[WK_BAD_ARGUMENT\]: --size/);
    expect(weightkit('synth', '--size', '1MiB', '--out', join(dir, 'x.safetensors'), '--dtype', 'f8').code).toBe(1);
    expect(weightkit('synth', '--size', '1MiB', '--out', join(dir, 'no-such-dir', 'x.safetensors')).stderr).toMatch(/^error\[WK_NOT_FOUND\]/);
  });
});

describe('weightkit demo', () => {
  it('prints the default model tensors and totals', () => {
    const r = weightkit('demo');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/face_recognition_model-weights_manifest\.json \(tfjs\)/);
    expect(r.stdout).toMatch(/^117 tensors, 6444032 bytes/m);
    expect(r.stdout).toMatch(/ssd_mobilenetv1_model-weights_manifest\.json\s+151/);
  });
});

describe('one set of CLI habits (issue 20)', () => {
  const model = join(dir, 'habits.safetensors');
  it('global flags anywhere on the line; no arguments is help on stdout with exit 0', () => {
    expect(weightkit('synth', '--size', '1MiB', '--out', model).code).toBe(0);
    const before = weightkit('--json', 'inspect', model);
    const after = weightkit('inspect', model, '--json');
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toBe(after.stdout);
    expect(weightkit('-q', 'offload', 'plan', '--json', model, '--budget-mb', '1').code).toBe(0);
    const none = weightkit();
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^usage: weightkit <command>/);
  });

  it('suggestions for unknown subcommands at every level', () => {
    expect(weightkit('cache', 'pak').stderr).toContain("unknown cache command 'pak' (did you mean 'pack'?)");
    expect(weightkit('offload', 'pln').stderr).toContain("(did you mean 'plan'?)");
    expect(weightkit('offload', 'plan', model, '--budjet', '16MiB').stderr).toContain("(did you mean '--budget'?)");
  });

  it('offload takes --budget with units (--budget-mb kept, not both) and run takes --objective', () => {
    const units = JSON.parse(weightkit('offload', 'plan', model, '--budget', '1MiB', '--json').stdout) as { budgetBytes: number };
    const mb = JSON.parse(weightkit('offload', 'plan', model, '--budget-mb', '1', '--json').stdout) as { budgetBytes: number };
    expect(units.budgetBytes).toBe(mb.budgetBytes);
    expect(weightkit('offload', 'plan', model, '--budget', '1MiB', '--budget-mb', '1').stderr).toMatch(/not both/);
    const run = weightkit('offload', 'run', model, '--budget', '1MiB', '--passes', '2', '--device', 'emu', '--objective', 'fewest-bytes', '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(weightkit('offload', 'run', model, '--budget', '1MiB', '--passes', '2', '--device', 'emu', '--objective', 'cheap').stderr).toMatch(/--objective must be fastest or fewest-bytes/);
  });
});

describe('the debug channel', () => {
  it('NODE_DEBUG=weightkit says which file of a folder opened, which readers were tried and which addon loaded', () => {
    const folder = join(dir, 'debug-folder');
    mkdirSync(folder, { recursive: true });
    expect(weightkit('synth', '--size', '64KiB', '--out', join(folder, 'model.safetensors')).code).toBe(0);
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'dist', 'src', 'bin', 'weightkit.js'), 'inspect', folder, '--json'],
      { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'weightkit' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WEIGHTKIT \d+: model folder .*debug-folder: opening model\.safetensors/);
    expect(r.stderr).toMatch(/WEIGHTKIT \d+: .*model\.safetensors: candidate readers safetensors/);
    expect(r.stderr).toMatch(/WEIGHTKIT \d+: addon weightkit_core loaded from .*weightkit_core\.node/);
    expect(weightkit('inspect', folder, '--json').stderr).toBe('');
  });
});
