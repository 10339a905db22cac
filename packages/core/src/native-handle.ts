/**
 * {@link NativeHandle}: the native half of an object whose `close()` frees it
 * off the JS thread. One place for the rules every such object follows: a
 * call after close is WK_CLOSED, close is idempotent, and every later close
 * resolves when the first one's release has finished.
 * @module
 */
import { WeightkitError } from './errors.js';

/** @internal Shared by the backends' long-lived objects. */
export class NativeHandle<T extends { close(): Promise<void> }> {
  #native: T | undefined;
  #released: Promise<void> = Promise.resolve();
  readonly #closedMessage: string;

  constructor(native: T, closedMessage: string) {
    this.#native = native;
    this.#closedMessage = closedMessage;
  }

  /** The native object; WK_CLOSED after close. */
  get live(): T {
    if (!this.#native) throw new WeightkitError('WK_CLOSED', this.#closedMessage);
    return this.#native;
  }

  /** The native object, or undefined after close (never throws). */
  get current(): T | undefined {
    return this.#native;
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  /** Starts the release (once) and resolves when it has finished. */
  close(): Promise<void> {
    if (this.#native) {
      this.#released = this.#native.close();
      this.#native = undefined;
    }
    return this.#released;
  }

  /** Holds a new native object after a close (an object reopened in place). */
  reopen(native: T): void {
    this.#native = native;
  }
}
