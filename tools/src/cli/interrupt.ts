/**
 * Ctrl-C and SIGTERM for commands that write: the write is aborted (its
 * temporary removed, the target left as it was) and the CLI exits 128 + the
 * signal's number (130 for Ctrl-C), as shells expect.
 * @module
 */
import { constants } from 'node:os';

/** The reason an interrupted command's signal carries; main() turns it into the exit status. */
export class Interrupted extends Error {
  readonly exitCode: number;

  constructor(signal: 'SIGINT' | 'SIGTERM', what: string) {
    super(`interrupted (${signal}); ${what}`);
    this.name = 'Interrupted';
    this.exitCode = 128 + constants.signals[signal];
  }
}

/** Runs `work` with a signal that SIGINT or SIGTERM aborts; `what` says what was left undone. */
export async function interruptible<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => ac.abort(new Interrupted(signal, what));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
