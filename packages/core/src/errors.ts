/**
 * Typed errors shared by every weightkit package.
 *
 * Every refusal — a malformed file, a wrong argument, a full disk — is a
 * {@link WeightkitError} whose {@link WeightkitError.code | code} is one of the
 * stable strings in {@link ERROR_CODES}. Codes never change meaning; messages
 * may be improved at any time, so match on `code`, not on `message`.
 *
 * @module
 */

/** Every error code weightkit uses, with what it means and what to do. */
export const ERROR_CODES = {
  WK_IO: 'The operating system refused a read, write, open or map. Check the path, permissions and device.',
  WK_BAD_FORMAT: 'The bytes are not the format they claim to be (truncated, malformed or hostile). Re-export or re-download the file.',
  WK_BAD_ARGUMENT: 'A function or command was called with an invalid argument or option. The message names it and what is allowed.',
  WK_UNSUPPORTED: 'The input is valid but uses something weightkit does not handle (a dtype, a compression method, a platform feature).',
  WK_BUDGET: 'A memory budget is too small for the request. The message states how much is needed.',
  WK_LOCKED: 'Another process holds the file. Retry later or use another path.',
  WK_CORRUPT: 'A file weightkit wrote failed an integrity check (checksum, fingerprint). It is rebuilt or refused, never served.',
  WK_NOT_FOUND: 'No such file, tensor, entry or model. The message names what was looked for.',
  WK_CLOSED: 'The object was used after close(). Reopen it.',
  WK_NO_SPACE: 'The filesystem is full. Free space or choose another location; nothing already saved is lost.',
  WK_DEVICE: 'The accelerator (real or emulated) reported a failure.',
  WK_BUSY: 'The object is running a long operation (await it first); the call returned at once instead of blocking the event loop.',
} as const;

/** A stable error code; see {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error type weightkit throws for anything it refuses. */
export class WeightkitError extends Error {
  /** Stable machine-readable code, e.g. `WK_BAD_FORMAT`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeightkitError';
    this.code = code in ERROR_CODES ? code : 'WK_IO';
  }
}

/** True when `e` is a {@link WeightkitError} (optionally with the given code). */
export function isWeightkitError(e: unknown, code?: ErrorCode): e is WeightkitError {
  return e instanceof WeightkitError && (code === undefined || e.code === code);
}

// The same codes and hints as the native layer's errno_status (mapped_file.hpp),
// so a refusal reads alike whichever side opened the file.
const BY_ERRNO: Record<string, [ErrorCode, string?]> = {
  ENOENT: ['WK_NOT_FOUND', 'check the path'],
  ENOSPC: ['WK_NO_SPACE', 'free disk space or choose another location'],
  EDQUOT: ['WK_NO_SPACE', 'free disk space or choose another location'],
  ELOOP: ['WK_BAD_ARGUMENT', 'the path ends in a symbolic link (or a loop of them), which is not opened here; pass the real path'],
  EISDIR: ['WK_BAD_ARGUMENT', 'pass a file, not a directory'],
  ENOTDIR: ['WK_BAD_ARGUMENT', 'a part of the path before its end is a file, not a folder'],
  EACCES: ['WK_IO', "check the file's permissions"],
  EPERM: ['WK_IO', "check the file's permissions"],
  EWOULDBLOCK: ['WK_LOCKED', 'another process holds the file'],
  EROFS: ['WK_IO', 'the file system is read-only'],
};

/** Maps a Node.js system error (ENOENT, ENOSPC, ...) to a WeightkitError. */
export function fromSystemError(e: unknown, what: string): WeightkitError {
  if (e instanceof WeightkitError) return e;
  const err = e as NodeJS.ErrnoException;
  const [code, hint] = (err?.code && BY_ERRNO[err.code]) || ['WK_IO'];
  const message = `${what}: ${err?.message ?? String(e)}${hint ? ` (${hint})` : ''}`;
  return new WeightkitError(code, message, { cause: e });
}

/** At most this many characters of an untrusted value are echoed in a message. */
const SHOWN_CHARS = 64;

/**
 * C0 and C1 controls, line and paragraph separators, and the bidirectional
 * controls (U+202A-202E, U+2066-2069, marks) that could reorder what a
 * terminal shows.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character written as an escape (`\n`, `\u202e`), so it prints as it reads. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/**
 * An untrusted value as a message shows it: bounded in length, never
 * recursive (a 5,000-deep array is "an array of 1 item", not a stack
 * overflow), strings quoted with their control characters escaped.
 * @internal
 */
export function shown(v: unknown): string {
  const bounded = (text: string) => (text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}... (${text.length} characters)` : text);
  if (typeof v === 'string') return `"${escapeControls(bounded(v)).replace(/"/g, '\\"')}"`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null || v === undefined) return bounded(String(v));
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  return `a${typeof v === 'object' ? 'n object' : ` ${typeof v}`}`;
}
