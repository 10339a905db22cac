/** A child program's inputs: environment variables it cannot run without. @module */
export function need(name: string): string {
  const v = process.env[name];
  if (v === undefined) {
    process.stderr.write(`missing environment variable ${name}\n`);
    process.exit(2);
  }
  return v;
}
