/**
 * Opening an input file the way every weightkit reader must: never through a
 * symlink, never blocking on a FIFO (opened non-blocking, checked with fstat
 * before any read), and only a regular file.
 * @module
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { WeightkitError, fromSystemError } from './errors.js';

const FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

function notRegular(path: string): WeightkitError {
  return new WeightkitError('WK_BAD_ARGUMENT', `'${path}' is not a regular file (a FIFO, socket or device cannot hold weights)`);
}

/** A descriptor of the regular file `path` and its stat; the caller closes it. */
export function openRegularSync(path: string): { fd: number; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw notRegular(path);
  }
  return { fd, stat };
}

/** {@link openRegularSync}, without a thread-pool wait on a FIFO. */
export async function openRegular(path: string): Promise<{ fh: FileHandle; stat: Stats }> {
  let fh: FileHandle;
  try {
    fh = await open(path, FLAGS);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  const stat = await fh.stat();
  if (!stat.isFile()) {
    await fh.close();
    throw notRegular(path);
  }
  return { fh, stat };
}

/** The whole regular file `path`, at most `limit` bytes (WK_BAD_FORMAT naming `what` when larger). */
export function readRegularSync(path: string, limit: number, what: string): Buffer {
  const { fd, stat } = openRegularSync(path);
  try {
    if (stat.size > limit) throw new WeightkitError('WK_BAD_FORMAT', `${what} '${path}' is larger than ${limit} bytes`);
    const buf = Buffer.alloc(stat.size);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes of the regular file `path` from `offset` (WK_BAD_FORMAT when the file is shorter). */
export function readRangeSync(path: string, offset: number, length: number): Buffer {
  const { fd } = openRegularSync(path);
  try {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new WeightkitError('WK_BAD_FORMAT', `'${path}' ends before byte ${offset + length} (it shrank while it was read?)`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
