import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir, tempDir, weightkit } from './cli-harness.js';

const manifest = join(modelDir, 'face_landmark_68_tiny_model-weights_manifest.json');
const dir = tempDir('wk-aoti-cli-');

describe('weightkit aoti', () => {
  it('converts a TF.js model to a .pt2 and a folder, and inspects both with the documented JSON', () => {
    const pt2 = join(dir, 'm.pt2');
    expect(weightkit('aoti', 'convert', manifest, '--out', pt2).code).toBe(0);
    const folder = join(dir, 'm-folder');
    const conv = weightkit('aoti', 'convert', manifest, '--out', folder, '--json');
    expect(conv.code, conv.stderr).toBe(0);
    expect(JSON.parse(conv.stdout)).toMatchObject({ key: 'model', constants: 28 });
    expect(existsSync(join(folder, 'model.wrapper_weights.blob'))).toBe(true);

    for (const target of [pt2, folder, join(folder, 'model.wrapper_weights.blob')]) {
      const r = weightkit('aoti', 'inspect', target, '--json');
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { payloadBytes: number; constants: Record<string, unknown>[] };
      expect(doc.constants).toHaveLength(28);
      expect(Object.keys(doc.constants[0]!).sort()).toEqual(
        ['dataSize', 'dtype', 'fqn', 'fromFolded', 'name', 'offset', 'payloadOffset', 'shape', 'stride', 'type'],
      );
      expect(doc.constants[0]).toMatchObject({ fqn: 'dense0/conv0/filters', dtype: 'float32', offset: 0, payloadOffset: 0, fromFolded: false, type: 'Parameter' });
      const last = doc.constants.at(-1) as { payloadOffset: number; dataSize: number };
      expect(last.payloadOffset + last.dataSize).toBe(doc.payloadBytes);
    }
    // `weightkit inspect` detects AOTI packages too.
    const generic = JSON.parse(weightkit('inspect', pt2, '--json').stdout) as { format: string; tensors: unknown[] };
    expect(generic.format).toBe('aoti');
    expect(generic.tensors).toHaveLength(28);
    // And a .pt2 converts back to a folder.
    expect(weightkit('aoti', 'convert', pt2, '--out', join(dir, 'again')).code).toBe(0);
  });

  it('reports refused input with error[CODE] and usage errors with exit 2', () => {
    const r = weightkit('aoti', 'inspect', join(dir, 'nothing-here.pt2'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[WK_NOT_FOUND\]/);
    expect(weightkit('aoti', 'frob').code).toBe(2);
    expect(weightkit('aoti', 'convert', manifest).stderr).toMatch(/^error\[WK_BAD_ARGUMENT\]: --out is required/);
  });

  it('the demo converts the default model and opens it back with 0 bytes copied', () => {
    const r = weightkit('demo');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/opened zero-copy in [\d.]+ ms, bytes copied: 0, constants differing from the source: 0/);
  });
});
