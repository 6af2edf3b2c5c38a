import { COLORMAP_NAMES, ColormapName } from '../../core/image/colormap';
import { ModelContext } from '../../core/context';
import { Explanation, METHODS, OptionSpec, OptionValue, explain as runMethod, methodByName, methodNames } from '../../core/explain';
import { deletionInsertion } from '../../core/explain/faithfulness';
import { describeTarget } from '../../core/explain/target';
import { readInputBytes } from '../../core/image/decode';
import { parseNpy } from '../../core/npy';
import { renderPng } from '../../core/render';
import { intOption, numberOption, parse, Parsed } from '../args';
import { MODEL_OPTIONS, TARGET_OPTIONS, TARGET_USAGE, targetJson, targetOf, withModel } from '../common';
import { fixed, printJson, printTable, terminalText, writeFile, writeNpy } from '../output';

/** The command's own flags; a method option of the same name is set through an alias (FLAG_ALIASES). */
const COMMAND_FLAGS = {
  ...MODEL_OPTIONS,
  ...TARGET_OPTIONS, method: { type: 'string' }, layer: { type: 'string' },
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
const COMMON = { ...COMMAND_FLAGS, ...Object.fromEntries([...OPTION_FLAGS.keys()].map((flag) => [flag, { type: 'string' as const }])) };

function placeholder(spec: OptionSpec): string {
  switch (spec.type) {
    case 'choice': return spec.choices?.join('|') ?? 'NAME';
    case 'ints': return 'A,B,C';
    case 'baseline': return 'VALUE|FILE.npy';
    default: return spec.type === 'int' ? 'N' : 'X';
  }
}

/** `[--flag VALUE]` for every method option, from the specs (aliases of old names left out). */
const OPTION_USAGE = [...OPTION_FLAGS].filter(([flag]) => !(flag in FLAG_ALIASES)).map(([flag, spec]) => `[--${flag} ${placeholder(spec)}]`).join(' ');

export const usage = `convlens explain MODEL INPUT --method NAME [--layer TENSOR|auto] ${TARGET_USAGE} [--raw] [--out FILE.npy|FILE.png] [--colormap ${COLORMAP_NAMES.join('|')}] [--opacity A] [--json] ${OPTION_USAGE} (--${Object.entries(FLAG_ALIASES).map(([alias, flag]) => `${alias} is --${flag}`).join(', --')})`;
export const faithfulnessUsage = `convlens faithfulness MODEL INPUT --method NAME[,NAME...] [--layer TENSOR|auto] ${TARGET_USAGE} [--steps N] [--json] [method options]`;

/** Method options from the command line, under the names the methods use (the methods' specs parse and check the values). */
function methodOptions(values: Parsed['values']): Record<string, { flag: string; value: OptionValue }> {
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
function optionsFor(method: string, given: Record<string, { flag: string; value: OptionValue }>): Record<string, OptionValue> {
  const specs = methodByName(method).options;
  const known = new Set(specs.map((o) => o.name));
  const unknown = Object.entries(given).filter(([name]) => !known.has(name));
  if (unknown.length > 0) throw new Error(`${method} does not take ${unknown.map(([, g]) => `--${g.flag}`).join(', ')}; it takes ${specs.map((o) => `--${flagOf(o.name)}`).join(', ') || 'no options'}`);
  return Object.fromEntries(Object.entries(given).map(([name, g]) => [name, g.value]));
}

function progressLine(label: string): (fraction: number, message: string) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (fraction, message) => process.stderr.write(`\r${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${message}`.padEnd(79).slice(0, 79) + (fraction >= 1 ? '\n' : ''));
}

function describe(ctx: ModelContext, e: Explanation): string {
  const t = e.target;
  if (t.kind === 'class') return `${ctx.labelOf(t.index)} (#${t.index})`;
  if (t.kind === 'difference') return `${ctx.labelOf(t.a)} rather than ${ctx.labelOf(t.b)}`;
  return describeTarget(t);
}

export async function explainCommand(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, {
    ...COMMON, raw: { type: 'boolean' }, out: { type: 'string' }, colormap: { type: 'string' }, opacity: { type: 'string' },
  }, ['MODEL', 'INPUT']);
  if (typeof values.method !== 'string') throw new Error(`--method NAME is required; the methods are ${methodNames().join(', ')}`);
  const method = values.method;
  const colormap = (values.colormap ?? 'viridis') as ColormapName;
  if (!COLORMAP_NAMES.includes(colormap)) throw new Error(`--colormap takes ${COLORMAP_NAMES.join(', ')}`);
  await withModel(positionals[0], values, async (ctx) => {
    const options = optionsFor(method, methodOptions(values));
    const input = ctx.loadInput(positionals[1]);
    const started = performance.now();
    const e = await runMethod(method, {
      model: ctx.model, input: input.tensor, target: await targetOf(ctx, values),
      layer: typeof values.layer === 'string' ? values.layer : undefined, progress: progressLine(method),
    }, options);
    const seconds = (performance.now() - started) / 1000;
    const result = values.raw ? e.raw : e.map;
    let written: string | undefined;
    if (typeof values.out === 'string') {
      if (values.out.toLowerCase().endsWith('.png')) {
        if (values.raw) throw new Error('--raw gives a tensor: write it to a .npy file');
        written = writeFile(values.out, renderPng(e.map, input.rgb, { colormap, opacity: numberOption(values.opacity, 'opacity') }));
      } else {
        written = writeNpy(values.out, result);
      }
    }
    if (values.json) {
      printJson({
        method, target: targetJson(e.target), targetLabel: describe(ctx, e), layer: e.layer, shape: result.dims, raw: !!values.raw,
        notes: e.notes, metrics: e.metrics, seconds, file: written,
      });
      return;
    }
    console.log(`${methodByName(method).title} of ${terminalText(describe(ctx, e))} on ${terminalText(positionals[1])}${e.layer ? ` at ${terminalText(e.layer)}` : ''}: ${values.raw ? 'raw attribution' : 'map'} [${result.dims.join(', ')}] in ${seconds.toFixed(2)} s`);
    for (const note of e.notes) console.log(`  · ${terminalText(note)}`);
    for (const [k, v] of Object.entries(e.metrics ?? {})) console.log(`  ${k} = ${fixed(v)}`);
    console.log(written ? `written to ${written}` : '(give --out FILE.png for the overlay, or FILE.npy for the values)');
  });
}

/** In the faithfulness command --steps counts the deletion and insertion steps, not a method's. */
function withoutCurveSteps(given: ReturnType<typeof methodOptions>): ReturnType<typeof methodOptions> {
  return Object.fromEntries(Object.entries(given).filter(([name]) => name !== 'steps'));
}

export async function faithfulnessCommand(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, COMMON, ['MODEL', 'INPUT']);
  if (typeof values.method !== 'string') throw new Error(`--method NAME[,NAME...] is required; the methods are ${methodNames().join(', ')}`);
  const methods = values.method.split(',');
  const steps = values.steps !== undefined ? intOption(values.steps, 'steps', 32) : 32;
  await withModel(positionals[0], values, async (ctx) => {
    const input = ctx.loadInput(positionals[1]);
    const rows = [];
    const target = await targetOf(ctx, values);
    for (const method of methods) {
      const explainContext = { model: ctx.model, input: input.tensor, target, layer: typeof values.layer === 'string' ? values.layer : undefined, progress: progressLine(method) };
      const e = await runMethod(method, explainContext, optionsFor(method, withoutCurveSteps(methodOptions(values))));
      const f = await deletionInsertion(explainContext, e.map, { steps });
      rows.push({ method, target: describeTarget(e.target), deletionAuc: f.deletion.normalizedAuc, insertionAuc: f.insertion.normalizedAuc, deletion: f.deletion, insertion: f.insertion, notes: f.notes });
    }
    if (values.json) {
      printJson(rows);
      return;
    }
    console.log(`faithfulness on ${positionals[1]} (${steps} steps; deletion: lower is better, insertion: higher is better)`);
    printTable([['method', 'deletion AUC', 'insertion AUC'], ...rows.map((r) => [r.method, fixed(r.deletionAuc, 3), fixed(r.insertionAuc, 3)])]);
    for (const note of rows[0]?.notes ?? []) console.log(`  · ${terminalText(note)}`);
  });
}
