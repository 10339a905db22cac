/** The shape of one CLI command module. @module */

export interface Command {
  /** Word(s) after `weightkit`, e.g. `inspect`. */
  readonly name: string;
  /** One line for `weightkit --help`. */
  readonly summary: string;
  /** Full usage text, printed on a usage error or `--help`. */
  readonly usage: string;
  /** Runs the command; resolves to the exit code (0 when omitted). */
  run(argv: string[]): Promise<number | void>;
}
