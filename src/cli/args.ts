// Command-line parsing on node:util's parseArgs, with errors phrased for the user.
import { parseArgs } from 'util';

export class UsageError extends Error {}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export interface Parsed {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

export function parse(argv: string[], options: OptionSpec, positionalNames: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  if (parsed.positionals.length < positionalNames.length) {
    throw new UsageError(`missing ${positionalNames.slice(parsed.positionals.length).join(' and ')}`);
  }
  if (parsed.positionals.length > positionalNames.length) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionalNames.length]}'`);
  }
  return { positionals: parsed.positionals, values: parsed.values as Parsed['values'] };
}

export function intOption(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} takes a whole number, got '${value}'`);
  return n;
}

export function numberOption(value: string | boolean | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} takes a number, got '${value}'`);
  return n;
}

export function listOption(value: string | boolean | undefined, name: string, length?: number): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = String(value).split(',').map(Number);
  if (parts.some((n) => !Number.isFinite(n)) || (length !== undefined && parts.length !== length)) {
    throw new UsageError(`--${name} takes ${length ?? 'a list of'} comma-separated numbers, got '${value}'`);
  }
  return parts;
}
