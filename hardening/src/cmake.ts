/** Configuring and building one package's CMake project for a hardening build. @module */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type NativeProgram, NATIVE_PACKAGES, packageDir, programsOf } from '@weightkit/tools/native-programs';
import { repoRoot } from './paths.js';

export interface Run {
  ok: boolean;
  out: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

export function run(cmd: string, argv: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Run {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  return { ok: r.status === 0, out: (r.stdout ?? '') + (r.stderr ?? ''), status: r.status, signal: r.signal };
}

export type Package = (typeof NATIVE_PACKAGES)[number];

/**
 * Configures `pkg` into `<repo>/<folder>/<pkg>-<tag>` with `defines`, then
 * builds the programs of `kind` that configuration declares built. Returns
 * them, or the failing step's output.
 */
export function buildPrograms(pkg: Package, folder: string, tag: string, defines: string[], kind: NativeProgram['kind']): { programs: NativeProgram[] } | { error: string } {
  const build = join(repoRoot, folder, `${pkg}-${tag}`);
  mkdirSync(build, { recursive: true });
  const configure = run('cmake', ['-S', packageDir(pkg), '-B', build, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=RelWithDebInfo', ...defines]);
  if (!configure.ok) return { error: configure.out.slice(-3000) };
  const programs = programsOf(pkg, build).filter((p) => p.kind === kind && p.built);
  if (programs.length === 0) return { programs };
  const compiled = run('cmake', ['--build', build, '--target', ...programs.map((p) => p.name)]);
  return compiled.ok ? { programs } : { error: compiled.out.slice(-3000) };
}
