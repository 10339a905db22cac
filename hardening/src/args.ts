/**
 * The one argument parser of the hardening suites: every suite takes the
 * same flags, each with a default that never touches committed files.
 * @module
 */
import { parseArgs } from 'node:util';

export interface SuiteArgs {
  /** Fuzzing time per target, seconds (fuzz). */
  seconds: number;
  /** Trials per experiment (faults). */
  trials: number;
  /** Run only this target or experiment. */
  only: string | undefined;
  /** Write the results as JSON here. */
  json: string | undefined;
  /** Also update the committed figures in docs/reliability/ (only when asked). */
  writeDocs: boolean;
}

const usage = (suite: string) => `usage: node hardening/dist/${suite}.js [--seconds N] [--trials N] [--only name] [--json out.json] [--write-docs]`;

export function suiteArgs(suite: string, argv = process.argv.slice(2)): SuiteArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string' }, trials: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' }, 'write-docs': { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage(suite)}\n`);
    process.exit(2);
  }
  const positive = (text: string | undefined, fallback: number, flag: string) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n <= 0) {
      process.stderr.write(`${flag} must be a positive number, got '${text}'\n${usage(suite)}\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    seconds: positive(values.seconds, 10, '--seconds'),
    trials: Math.round(positive(values.trials, 100, '--trials')),
    only: values.only,
    json: values.json,
    writeDocs: values['write-docs'] ?? false,
  };
}
