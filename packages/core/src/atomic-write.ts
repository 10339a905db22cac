/**
 * Writing a file so that no reader ever sees half of it: into a temporary
 * file beside the target, synced, then renamed over it. A crash, an abort or
 * a full disk leaves the target as it was and no temporary file behind.
 * @module
 */
import { renameSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { fromSystemError } from './errors.js';

/** Writes all of `bytes` at the handle's position. */
export async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) done += (await fh.write(bytes, done, bytes.byteLength - done)).bytesWritten;
}

/**
 * Runs `body` on a new temporary file beside `path`, then syncs it and renames
 * it into place. On an abort of `signal` (checked before and after `body`) the
 * promise rejects with the signal's reason; any other failure is a coded
 * WeightkitError (WK_NO_SPACE on a full disk).
 * @internal Shared by the writers of the packages.
 */
export async function writeFileAtomically(path: string, body: (fh: FileHandle) => Promise<void>, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const tmp = `${path}.tmp-${process.pid}`;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await body(fh);
    signal?.throwIfAborted();
    await fh.sync();
    await fh.close();
    fh = undefined;
    renameSync(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    rmSync(tmp, { force: true });
    if (signal?.aborted) throw signal.reason;
    throw fromSystemError(e, `cannot write '${path}'`);
  }
}
