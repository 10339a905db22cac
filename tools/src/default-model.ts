/**
 * The bundled default model: the real pretrained weights shipped in the npm
 * package @vladmandic/face-api (TensorFlow.js manifests + .bin shards).
 * @module
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WeightkitError } from '@weightkit/core';

/** The folder holding face-api's manifests and shards. */
export function defaultModelDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json');
  } catch {
    throw new WeightkitError('WK_NOT_FOUND', "the default model package @vladmandic/face-api is not installed; run 'npm ci'");
  }
  const dir = join(dirname(pkg), 'model');
  if (!existsSync(dir)) throw new WeightkitError('WK_NOT_FOUND', `the default model folder ${dir} is missing; reinstall with 'npm ci'`);
  return dir;
}

/** Every weights manifest of the default package, sorted by name. */
export function defaultManifests(): string[] {
  const dir = defaultModelDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('-weights_manifest.json'))
    .sort()
    .map((f) => join(dir, f));
}

/** The default model: face_recognition (117 tensors, ~6.1 MiB). */
export function defaultModel(): string {
  return join(defaultModelDir(), 'face_recognition_model-weights_manifest.json');
}
