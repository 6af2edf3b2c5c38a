// The flags of `convlens explain` (one image or a folder): the command's own, and one per option
// any explanation method declares (its OptionSpec), with the aliases of earlier flag names.
import { METHODS, OptionSpec, OptionValue, methodByName } from '../../core/explain';
import { readInputBytes } from '../../core/image/decode';
import { parseNpy } from '../../core/npy';
import { Parsed } from '../args';
import { MODEL_OPTIONS, TARGET_OPTIONS } from '../common';

/** The command's own flags; a method option of the same name is set through an alias (FLAG_ALIASES). */
const COMMAND_FLAGS = {
  ...MODEL_OPTIONS,
  ...TARGET_OPTIONS,
  method: { type: 'string' },
  layer: { type: 'string' },
} as const;

/** Flags of earlier versions, kept as aliases of the option flags that replaced them. */
export const FLAG_ALIASES: Readonly<Record<string, string>> = { stride: 'strides', noise: 'stdev' };

/** Options whose name the command's own flags take: integrated gradients' `method` (--method names the explanation method). */
const RENAMED: Readonly<Record<string, string>> = { method: 'ig-method' };

/** The flag of a method option: its name kebab-cased, unless renamed. */
export function flagOf(option: string): string {
  return RENAMED[option] ?? option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Method option by flag: one flag per option any method declares (its OptionSpec), and the aliases. */
export function optionFlags(): Map<string, OptionSpec> {
  const specs = Object.values(METHODS).flatMap((m) => m.options);
  const flags = new Map<string, OptionSpec>();
  for (const spec of specs) if (!flags.has(flagOf(spec.name))) flags.set(flagOf(spec.name), spec);
  for (const [alias, flag] of Object.entries(FLAG_ALIASES)) flags.set(alias, flags.get(flag)!);
  return flags;
}

const OPTION_FLAGS = optionFlags();
export const COMMON = { ...COMMAND_FLAGS, ...Object.fromEntries([...OPTION_FLAGS.keys()].map((flag) => [flag, { type: 'string' as const }])) };

function placeholder(spec: OptionSpec): string {
  switch (spec.type) {
    case 'choice':
      return spec.choices?.join('|') ?? 'NAME';
    case 'ints':
      return 'A,B,C';
    case 'baseline':
      return 'VALUE|FILE.npy';
    default:
      return spec.type === 'int' ? 'N' : 'X';
  }
}

/** `[--flag VALUE]` for every method option, from the specs (aliases of old names left out). */
const OPTION_USAGE = [...OPTION_FLAGS]
  .filter(([flag]) => !(flag in FLAG_ALIASES))
  .map(([flag, spec]) => `[--${flag} ${placeholder(spec)}]`)
  .join(' ');

/** How the option flags read in a usage line, with the aliases. */
export const OPTIONS_USAGE = `${OPTION_USAGE} (--${Object.entries(FLAG_ALIASES)
  .map(([alias, flag]) => `${alias} is --${flag}`)
  .join(', --')})`;

/** Method options from the command line, under the names the methods use (the methods' specs parse and check the values). */
export function methodOptions(values: Parsed['values']): Record<string, { flag: string; value: OptionValue }> {
  const given: Record<string, { flag: string; value: OptionValue }> = {};
  for (const [flag, spec] of OPTION_FLAGS) {
    const value = values[flag];
    if (typeof value !== 'string') continue;
    if (given[spec.name]) throw new Error(`--${flag} and --${given[spec.name].flag} set the same option; give one`);
    given[spec.name] = { flag, value: spec.type === 'baseline' && value.toLowerCase().endsWith('.npy') ? parseNpy(new Uint8Array(readInputBytes(value))) : value };
  }
  return given;
}

/** Only the options this method takes, so a stray flag for another method is named clearly. */
export function optionsFor(method: string, given: Record<string, { flag: string; value: OptionValue }>): Record<string, OptionValue> {
  const specs = methodByName(method).options;
  const known = new Set(specs.map((o) => o.name));
  const unknown = Object.entries(given).filter(([name]) => !known.has(name));
  if (unknown.length > 0)
    throw new Error(`${method} does not take ${unknown.map(([, g]) => `--${g.flag}`).join(', ')}; it takes ${specs.map((o) => `--${flagOf(o.name)}`).join(', ') || 'no options'}`);
  return Object.fromEntries(Object.entries(given).map(([name, g]) => [name, g.value]));
}
