/**
 * Writing a file or a folder so that no reader ever sees half of it, and
 * nothing that is not the writer's own is ever replaced or removed:
 *
 * - the target must be absent or of the kind written (a regular file, or a
 *   folder); a device, FIFO, socket or symbolic link is refused
 *   (WK_BAD_ARGUMENT), never renamed over;
 * - the data goes to a temporary beside the target, named
 *   `<target>.wk-tmp-<pid>-<16 random hex digits>` and created with O_EXCL
 *   (no other user can predict or pre-create it), synced, then renamed into
 *   place (a folder is swapped in with one renameat2(RENAME_EXCHANGE));
 * - a crash, an abort or a full disk leaves the target as it was; the
 *   temporary is removed on every exit path this process sees (errors,
 *   aborts, `process.exit`), and a temporary left by a writer that was
 *   killed (its pid no longer runs) is removed by the next writer of the
 *   same target.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, type Stats,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { coreAddon } from './binding.js';
import { WeightkitError, fromSystemError } from './errors.js';

/** What every temporary name carries after the target's name. */
export const TEMPORARY_MARK = '.wk-tmp-';

/** Temporaries of writes in flight in this process, removed if it exits mid-write. */
const inFlight = new Set<string>();
let exitHookInstalled = false;

function track(tmp: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of inFlight) rmSync(p, { recursive: true, force: true });
    });
  }
  inFlight.add(tmp);
}

function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid that wrote `name`, a temporary of `target` (undefined when it is none). */
export function temporaryOwner(target: string, name: string): number | undefined {
  const prefix = basename(target) + TEMPORARY_MARK;
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(\d+)-[0-9a-f]{16}$/.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

/**
 * Removes the temporaries of `target` whose writer is gone (killed, or a
 * former process with this pid). Returns how many were removed.
 */
export function removeStaleTemporaries(target: string): number {
  const dir = dirname(target);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = temporaryOwner(target, name);
    if (pid === undefined) continue;
    const path = join(dir, name);
    if (pid === process.pid ? inFlight.has(path) : pidRuns(pid)) continue;
    rmSync(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a regular file';
}

/** Refuses a target that exists and is not of the kind written. */
function checkTarget(path: string, want: 'file' | 'folder'): boolean {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fromSystemError(e, `cannot write '${path}'`);
  }
  if (want === 'file' ? st.isFile() : st.isDirectory()) return true;
  throw new WeightkitError('WK_BAD_ARGUMENT',
    `'${path}' is ${kindOf(st)}, not a ${want === 'file' ? 'regular file' : 'folder'}; weightkit replaces only what it writes (choose another output path)`);
}

/** Prepares a write of `path`: the target checked, stale temporaries removed, a fresh name tracked. */
function prepare(path: string, want: 'file' | 'folder'): { tmp: string; exists: boolean } {
  const exists = checkTarget(path, want);
  removeStaleTemporaries(path);
  const tmp = `${path}${TEMPORARY_MARK}${process.pid}-${randomBytes(8).toString('hex')}`;
  track(tmp);
  return { tmp, exists };
}

function discard(tmp: string): void {
  inFlight.delete(tmp);
  try {
    rmSync(tmp, { recursive: true, force: true });
  } catch {
    // Left for the next writer of the target, which removes it.
  }
}

function settle(tmp: string, path: string, e: unknown, signal: AbortSignal | undefined): never {
  discard(tmp);
  if (signal?.aborted) throw signal.reason;
  throw fromSystemError(e, `cannot write '${path}'`);
}

/** Writes all of `bytes` at the handle's position. */
export async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) done += (await fh.write(bytes, done, bytes.byteLength - done)).bytesWritten;
}

/**
 * Runs `body` on a new temporary file beside `path`, then syncs it and renames
 * it into place. On an abort of `signal` (checked before and after `body`) the
 * promise rejects with the signal's reason; any other failure is a coded
 * WeightkitError (WK_NO_SPACE on a full disk, WK_BAD_ARGUMENT when `path` is
 * not a regular file).
 */
export async function writeFileAtomically(path: string, body: (fh: FileHandle) => Promise<void>, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const { tmp } = prepare(path, 'file');
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await body(fh);
    signal?.throwIfAborted();
    await fh.sync();
    await fh.close();
    fh = undefined;
    renameSync(tmp, path);
    inFlight.delete(tmp);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    settle(tmp, path, e, signal);
  }
}

/** {@link writeFileAtomically} for a synchronous `body` writing to a file descriptor. */
export function writeFileAtomicallySync(path: string, body: (fd: number) => void): void {
  const { tmp } = prepare(path, 'file');
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    body(fd);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    inFlight.delete(tmp);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    settle(tmp, path, e, undefined);
  }
}

/**
 * Writes the folder `dir` as a whole: `body` fills a new folder beside it,
 * which then replaces `dir` in one step, so a reader opening `dir` sees the
 * old folder or the new one, never a mix. Files of the old folder that `body`
 * did not write are carried over (hard links). One writer per folder at a
 * time: a second one fails at once with WK_LOCKED (the lock file is
 * `.<name>.wk-lock` beside the folder; the kernel releases it if the writer dies).
 */
export async function writeFolderAtomically(dir: string, body: (tmp: string) => Promise<void>, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  try {
    mkdirSync(dirname(dir), { recursive: true });
  } catch (e) {
    throw fromSystemError(e, `cannot create '${dirname(dir)}'`);
  }
  const lock = coreAddon().lockPath(join(dirname(dir), `.${basename(dir)}.wk-lock`), `'${dir}'`);
  try {
    const { tmp, exists } = prepare(dir, 'folder');
    try {
      mkdirSync(tmp, { mode: 0o755 });
      await body(tmp);
      signal?.throwIfAborted();
      if (exists) carryOver(dir, tmp);
      syncPath(tmp);
      if (exists) coreAddon().exchangePaths(tmp, dir);
      else renameSync(tmp, dir);
      syncPath(dirname(dir));
    } catch (e) {
      settle(tmp, dir, e, signal);
    }
    discard(tmp); // after the exchange: the old folder
  } finally {
    lock.release();
  }
}

/** Hard-links into `tmp` the regular files of `dir` that `tmp` lacks; anything else there is refused. */
function carryOver(dir: string, tmp: string): void {
  const have = new Set(readdirSync(tmp));
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (have.has(e.name)) continue;
    if (!e.isFile()) {
      throw new WeightkitError('WK_BAD_ARGUMENT',
        `'${join(dir, e.name)}' is not a regular file; weightkit replaces a model folder as a whole and cannot carry it over (write into a folder of its own)`);
    }
    linkSync(join(dir, e.name), join(tmp, e.name));
  }
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
