// Method options: what a caller passes (numbers and strings from the CLI or the webview, tensors
// from code) checked against each method's specs, with defaults filled in.
import { Tensor } from '../tensor';
import { ExplainError, OptionSpec, OptionValue } from './types';

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && 'dims' in v && 'data' in v;
}

function parseNumber(method: string, spec: OptionSpec, value: OptionValue): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new ExplainError(`${method}: option '${spec.name}' must be a number (got ${JSON.stringify(value)})`);
  }
  if (spec.type === 'int' && !Number.isInteger(n)) throw new ExplainError(`${method}: option '${spec.name}' must be an integer (got ${n})`);
  if (spec.min !== undefined && n < spec.min) throw new ExplainError(`${method}: option '${spec.name}' must be at least ${spec.min} (got ${n})`);
  if (spec.max !== undefined && n > spec.max) throw new ExplainError(`${method}: option '${spec.name}' must be at most ${spec.max} (got ${n})`);
  return n;
}

function parseValue(method: string, spec: OptionSpec, value: OptionValue): OptionValue {
  switch (spec.type) {
    case 'int':
    case 'number':
      return parseNumber(method, spec, value);
    case 'choice': {
      const s = String(value);
      if (!spec.choices?.includes(s)) {
        throw new ExplainError(`${method}: option '${spec.name}' must be one of ${spec.choices?.join(', ')} (got '${s}')`);
      }
      return s;
    }
    case 'ints': {
      const list =
        typeof value === 'string'
          ? value
              .split(/[,x×\s]+/)
              .filter(Boolean)
              .map(Number)
          : typeof value === 'number'
            ? [value]
            : value;
      if (!Array.isArray(list) || list.length === 0 || !list.every((v) => Number.isInteger(v) && v > 0)) {
        throw new ExplainError(`${method}: option '${spec.name}' must be positive integers such as 3,32,32 (got ${JSON.stringify(value)})`);
      }
      return list;
    }
    case 'baseline':
      if (isTensor(value)) return value;
      return parseNumber(method, spec, value);
  }
}

/** The options a method runs with: the given ones checked, the others at their defaults. */
export function resolveOptions(method: string, specs: OptionSpec[], given: Record<string, OptionValue | undefined> = {}): Record<string, OptionValue> {
  const known = new Set(specs.map((s) => s.name));
  for (const name of Object.keys(given)) {
    if (given[name] !== undefined && !known.has(name)) {
      const list = specs.length ? `; it takes ${specs.map((s) => s.name).join(', ')}` : '; it takes none';
      throw new ExplainError(`${method} has no option '${name}'${list}`);
    }
  }
  const resolved: Record<string, OptionValue> = {};
  for (const spec of specs) {
    const value = given[spec.name];
    resolved[spec.name] = value === undefined ? spec.default : parseValue(method, spec, value);
  }
  return resolved;
}
