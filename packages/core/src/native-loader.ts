/**
 * Loading a weightkit `.node` addon: a local build first, then the prebuilt
 * binary shipped in the package, then an error that names the platform, lists
 * what was tried and what ships, and says how to build from source.
 *
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debug } from './debug.js';
import { WeightkitError } from './errors.js';

/** The largest ArrayBuffer this runtime can create (4 GiB on Node.js 20, 2^53 - 1 from Node.js 22). */
export const MAX_VIEW_BYTES: number = bufferConstants.MAX_LENGTH;

/** What every weightkit addon exports besides its own API. */
export interface AddonBase {
  /**
   * Hands the addon the class it throws for every failed native Status, and
   * the largest ArrayBuffer this runtime can hold.
   */
  setErrorClass(cls: typeof WeightkitError, maxViewBytes: number): void;
}

let tag: string | undefined;

/**
 * The C library this Node.js runs on, from the dynamic loader its binary
 * names (PT_INTERP: `ld-linux-*` is glibc's, `ld-musl-*` musl's): a read of
 * a few KiB, where `process.report.getReport()` builds a whole diagnostic
 * report (~6 ms, paid by every first addon load). Falls back to the report
 * when the binary cannot be read.
 */
function linuxLibc(): 'glibc' | 'musl' {
  let fd: number | undefined;
  try {
    fd = openSync(process.execPath, 'r');
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    const phoff = Number(head.readBigUInt64LE(0x20)), phentsize = head.readUInt16LE(0x36), phnum = head.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (ph.readUInt32LE(at) !== 3) continue; // PT_INTERP
      const interp = Buffer.alloc(Math.min(Number(ph.readBigUInt64LE(at + 0x20)), 256));
      readSync(fd, interp, 0, interp.length, Number(ph.readBigUInt64LE(at + 8)));
      if (/ld-musl/.test(interp.toString('latin1'))) return 'musl';
      if (/ld-linux/.test(interp.toString('latin1'))) return 'glibc';
    }
  } catch {
    // unreadable: ask the report below
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/**
 * This machine's prebuilt-binary folder name, `<platform>-<arch>-<libc>`
 * (for example `linux-x64-glibc`); musl and other C libraries read `musl`.
 */
export function prebuildTag(): string {
  tag ??= `${process.platform}-${process.arch}${process.platform === 'linux' ? `-${linuxLibc()}` : ''}`;
  return tag;
}

/**
 * Where a native file of the package whose compiled module URL is
 * `moduleUrl` may be, in the order they are tried: a local build first
 * (`npx cmake-js compile` in an installed package, `npm run build` in the
 * workspace: whoever built one wants it used), then the prebuilt binary for
 * this platform that the npm tarball ships.
 */
export function nativeFileCandidates(moduleUrl: string, fileName: string): string[] {
  const packageRoot = join(dirname(fileURLToPath(moduleUrl)), '..');
  return [
    join(packageRoot, 'build', 'Release', fileName),
    join(packageRoot, 'build', 'Debug', fileName),
    join(packageRoot, 'prebuilds', prebuildTag(), fileName),
  ];
}

/** The platforms the package at `packageRoot` ships prebuilt binaries for. */
function shippedTags(packageRoot: string): string[] {
  try {
    return readdirSync(join(packageRoot, 'prebuilds')).sort();
  } catch {
    return [];
  }
}

/** The first of {@link nativeFileCandidates} that exists. */
export function findNativeFile(moduleUrl: string, fileName: string): string | undefined {
  return nativeFileCandidates(moduleUrl, fileName).find((p) => existsSync(p));
}

/** ELF e_machine of each architecture weightkit ships for. */
const ELF_MACHINES: Partial<Record<string, number>> = { x64: 62, arm64: 183 };

/**
 * Why the ELF shared object at `path` cannot be loaded safely, or undefined
 * when its headers and every loaded segment lie inside the file. The dynamic
 * loader maps segments without checking them against the file's size, so a
 * truncated binary (a partial download, a full disk) would kill the process
 * with SIGBUS at load instead of failing.
 */
export function elfProblem(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF shared object';
    if (head[4] !== 2 || head[5] !== 1) return 'not a 64-bit little-endian ELF object';
    const machine = head.readUInt16LE(0x12);
    const expected = ELF_MACHINES[process.arch];
    if (expected !== undefined && machine !== expected) {
      const built = Object.entries(ELF_MACHINES).find(([, m]) => m === machine)?.[0] ?? `ELF machine ${machine}`;
      return `built for ${built}, this machine is ${process.arch}`;
    }
    const phoff = Number(head.readBigUInt64LE(0x20));
    const shoff = Number(head.readBigUInt64LE(0x28));
    const phentsize = head.readUInt16LE(0x36), phnum = head.readUInt16LE(0x38);
    const shentsize = head.readUInt16LE(0x3a), shnum = head.readUInt16LE(0x3c);
    const truncated = (end: number, what: string) => (end > size ? `truncated: ${what} ends at byte ${end}, the file has ${size} (reinstall the package)` : undefined);
    const tables = truncated(phoff + phentsize * phnum, 'the program headers') ?? truncated(shoff + shentsize * shnum, 'the section headers');
    if (tables) return tables;
    if (phentsize < 56) return 'malformed program headers';
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (ph.readUInt32LE(at) !== 1) continue; // PT_LOAD
      const problem = truncated(Number(ph.readBigUInt64LE(at + 8)) + Number(ph.readBigUInt64LE(at + 0x20)), `loaded segment ${i}`);
      if (problem) return problem;
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Loads `<name>.node` for the package whose compiled module URL is
 * `moduleUrl` (pass `import.meta.url` from its `dist/binding.js`) and hands
 * it {@link WeightkitError}. A binary that is truncated or otherwise broken
 * is skipped for the next candidate, never loaded. `WEIGHTKIT_ADDON_<NAME>`
 * names an absolute path to load instead; WK_BAD_ARGUMENT when it cannot be
 * loaded (an explicit choice is never silently replaced). Throws
 * WK_UNSUPPORTED naming the platform and the paths tried.
 */
export function loadNativeAddon<T extends AddonBase>(moduleUrl: string, name: string): T {
  const variable = `WEIGHTKIT_ADDON_${name.toUpperCase()}`;
  const chosen = process.env[variable];
  const require = createRequire(moduleUrl);
  const failures: string[] = [];
  const tryLoad = (path: string): T | undefined => {
    if (!existsSync(path)) {
      failures.push(`${path} (missing)`);
      return undefined;
    }
    const problem = elfProblem(path);
    if (problem) {
      failures.push(`${path} (${problem})`);
      return undefined;
    }
    try {
      const addon = require(path) as T;
      addon.setErrorClass(WeightkitError, MAX_VIEW_BYTES);
      debug('addon %s loaded from %s%s', name, path, failures.length ? ` (skipped: ${failures.join('; ')})` : '');
      return addon;
    } catch (e) {
      failures.push(`${path} (${(e as Error).message})`);
      return undefined;
    }
  };
  if (chosen) {
    if (!isAbsolute(chosen)) throw new WeightkitError('WK_BAD_ARGUMENT', `${variable} must be an absolute path, got '${chosen}'`);
    const addon = tryLoad(chosen);
    if (addon) return addon;
    throw new WeightkitError('WK_BAD_ARGUMENT', `${variable} names an addon that cannot be loaded: ${failures.join('; ')}; fix or unset it`);
  }
  for (const path of nativeFileCandidates(moduleUrl, `${name}.node`)) {
    const addon = tryLoad(path);
    if (addon) return addon;
  }
  const packageRoot = join(dirname(fileURLToPath(moduleUrl)), '..');
  const ships = `This package ships prebuilt binaries for ${shippedTags(packageRoot).join(' and ') || 'no platform'} (glibc 2.31 or newer)`;
  const remedy = process.platform === 'linux'
    ? `On this Linux, build it from source (cmake >= 3.18 and a C++17 compiler): ` +
      `'npm install --no-save cmake-js node-addon-api node-api-headers' in your app, then 'npx cmake-js compile' in ${packageRoot}.`
    : `weightkit runs on Linux only; its types install everywhere, so an app can be written here and run on Linux (a server, a container or a VM).`;
  throw new WeightkitError(
    'WK_UNSUPPORTED',
    `cannot load the native addon ${name}.node on ${prebuildTag()} (Node.js ${process.version}); tried: ${failures.join('; ')}. ${ships}. ${remedy}`,
  );
}
