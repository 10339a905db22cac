/**
 * Cancelling native work with an AbortSignal: the signal sets a shared word
 * that a worker thread polls between steps; the operation then rejects with
 * the signal's reason, as `fetch` and `fs.promises` do.
 *
 * @module
 */

/**
 * A shared Int32Array that becomes 1 when `signal` aborts, for a native
 * worker to poll; undefined without a signal. Throws the signal's reason when
 * it has already aborted. The second value detaches the listener.
 * @internal
 */
export function cancelFlag(signal: AbortSignal | undefined): { flag: Int32Array | undefined; done: () => void } {
  if (!signal) return { flag: undefined, done: () => {} };
  signal.throwIfAborted();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const onAbort = () => Atomics.store(flag, 0, 1);
  signal.addEventListener('abort', onAbort, { once: true });
  return { flag, done: () => signal.removeEventListener('abort', onAbort) };
}

/**
 * Runs `work` with a cancel flag for `signal`; when the signal aborted while
 * it ran, rejects with the signal's reason whatever the work returned.
 * @internal
 */
export async function withSignal<T>(signal: AbortSignal | undefined, work: (flag: Int32Array | undefined) => Promise<T>): Promise<T> {
  const { flag, done } = cancelFlag(signal);
  try {
    const result = await work(flag);
    signal?.throwIfAborted();
    return result;
  } catch (e) {
    signal?.throwIfAborted();
    throw e;
  } finally {
    done();
  }
}
