/**
 * The native programs each package declares once in its CMakeLists.txt
 * (weightkit_native_program): tests, fuzz targets, benchmarks and interop
 * programs. CMake lists them in build/Release/native-programs.json; the test
 * suite, the hardening runners and the benchmarks read that list, so adding
 * a program never means editing a runner. The hardening workspace imports
 * it as `@weightkit/tools/native-programs`, not through the CLI's barrel.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WeightkitError } from '@weightkit/core';
import { spawnJson } from './child-json.js';

/** The packages with native code, in build order. */
export const NATIVE_PACKAGES = ['core', 'aoti-blob', 'xnnpack-cache', 'cuda-offload'] as const;

export type ProgramKind = 'test' | 'fuzz' | 'bench' | 'interop';

export interface NativeProgram {
  name: string;
  kind: ProgramKind;
  /** Built by the last configure of its package (fuzz and interop programs need more, see weightkit.cmake). */
  built: boolean;
  /** The package folder. */
  packageDir: string;
  /** Where `npm run build:all` puts the executable. */
  path: string;
}

const require = createRequire(import.meta.url);

export function packageDir(pkg: (typeof NATIVE_PACKAGES)[number]): string {
  return dirname(require.resolve(`@weightkit/${pkg}/package.json`));
}

/** The programs of `pkg` as listed by the build folder `build` (default: the package's own build). */
export function programsOf(pkg: (typeof NATIVE_PACKAGES)[number], build = join(packageDir(pkg), 'build')): NativeProgram[] {
  const list = join(build, 'Release', 'native-programs.json');
  if (!existsSync(list)) return [];
  const entries = JSON.parse(readFileSync(list, 'utf8')) as { name: string; kind: ProgramKind; built: boolean }[];
  return entries.map((e) => ({ ...e, packageDir: packageDir(pkg), path: join(build, 'Release', e.name) }));
}

/** Every declared program of every package, optionally of one kind. */
export function nativePrograms(kind?: ProgramKind): NativeProgram[] {
  return NATIVE_PACKAGES.flatMap((p) => programsOf(p)).filter((p) => !kind || p.kind === kind);
}

/** One built program by name; WK_NOT_FOUND says how to build it. */
export function nativeProgram(name: string): NativeProgram {
  const p = nativePrograms().find((x) => x.name === name);
  if (!p || !p.built || !existsSync(p.path)) {
    throw new WeightkitError('WK_NOT_FOUND', `the native program ${name} is not built; it is built in a weightkit checkout by 'npm run build:all' (an installed package ships no native programs)` +
      (p?.kind === 'interop' ? ' with WEIGHTKIT_XNNPACK_DIR set to a prebuilt XNNPACK' : ''));
  }
  return p;
}

/** Runs a built program and parses the JSON object it prints last. */
export function runProgram<T>(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): T {
  return spawnJson<T>(nativeProgram(name).path, args, env, name);
}
