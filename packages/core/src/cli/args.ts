/**
 * Argument parsing for `rayts`: node's util.parseArgs with strict option checking, and conversions
 * that fail with a message naming the flag and what is valid.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidArgumentError, validateAmount, validateResources, parseLabels, type ResourceMap } from '@samsara/ray-common';

type Parsed<O> = {
  values: { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };
  positionals: string[];
};

/** Parses `argv`; `--help`/`-h` (before any `--`) prints the usage and exits 0. */
export function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string): Parsed<O> {
  const end = argv.indexOf('--');
  const own = end === -1 ? argv : argv.slice(0, end);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(`Usage: ${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as unknown as Parsed<O>;
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message.replace(/^.*?: /, '')}`, { hint: `Usage: ${usage}` });
  }
}

export function numberFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return validateAmount(Number.isNaN(n) ? v : n, `--${flag}`);
}

export function portFlag(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be an integer 0–65535, got ${JSON.stringify(v)}.`);
  return n;
}

export function resourcesFlag(v: string | undefined): ResourceMap {
  if (v === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError(`--resources must be JSON, got ${JSON.stringify(v)}.`, { hint: `Example: --resources '{"spark_executor":2,"camera":1}'` });
  }
  const r = validateResources(parsed, '--resources');
  for (const k of ['CPU', 'GPU']) {
    if (k in r) throw new InvalidArgumentError(`--resources must not set ${k}; use --num-${k.toLowerCase()}s.`);
  }
  return r;
}

export function labelsFlag(v: string | undefined): Record<string, string> {
  return parseLabels(v);
}

export function addressFlag(v: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m) throw new InvalidArgumentError(`--address must be HOST:PORT, got ${JSON.stringify(v)}.`, { hint: 'Example: --address 127.0.0.1:6380' });
  return { host: m[1], port: Number(m[2]) };
}
