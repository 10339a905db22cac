/** The shape of one CLI command module, and commands made of subcommands. @module */
import { UsageError, suggestion } from './args.js';

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

/**
 * A command made of subcommands (`weightkit cache pack ...`): runs the one
 * named by the first argument, or fails with a usage error naming the word.
 */
export function withSubcommands(
  name: string,
  summary: string,
  usage: string,
  subcommands: Record<string, (argv: string[]) => Promise<number | void>>,
): Command {
  return {
    name,
    summary,
    usage,
    async run(argv) {
      const [sub, ...rest] = argv;
      const run = sub !== undefined && Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined;
      if (!run) throw new UsageError(sub ? `unknown ${name} command '${sub}'${suggestion(sub, Object.keys(subcommands))}` : `missing ${name} command`, usage);
      return run(rest);
    },
  };
}
