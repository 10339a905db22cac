/**
 * The default model: the real pretrained weights shipped in the npm package
 * @vladmandic/face-api (TensorFlow.js manifests + .bin shards), an optional
 * peer of @weightkit/tools (24 MB an app need not carry); the workspace
 * installs it as a devDependency.
 * @module
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WeightkitError } from '@weightkit/core';

/** What to run to get the default model. */
export const INSTALL_DEFAULT_MODEL = "run 'npm install @vladmandic/face-api' in your app";

/** Whether the default model's package is installed. */
export function hasDefaultModel(): boolean {
  try {
    defaultModelDir();
    return true;
  } catch {
    return false;
  }
}

/** The folder holding face-api's manifests and shards. */
export function defaultModelDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json');
  } catch {
    throw new WeightkitError('WK_NOT_FOUND', `the default model package @vladmandic/face-api is not installed (an optional peer of @weightkit/tools); ${INSTALL_DEFAULT_MODEL}`);
  }
  const dir = join(dirname(pkg), 'model');
  if (!existsSync(dir)) throw new WeightkitError('WK_NOT_FOUND', `the default model folder ${dir} is missing; reinstall @vladmandic/face-api`);
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
