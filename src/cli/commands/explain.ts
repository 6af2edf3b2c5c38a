import { COLORMAP_NAMES, ColormapName } from '../../core/image/colormap';
import { ModelContext } from '../../core/context';
import { Explanation, explain as runMethod, methodByName, methodNames } from '../../core/explain';
import { deletionInsertion } from '../../core/explain/faithfulness';
import { describeTarget } from '../../core/explain/target';
import { renderPng } from '../../core/render';
import { intOption, numberOption, parse } from '../args';
import { withModel } from '../common';
import { fixed, printJson, printTable, terminalText, writeFile, writeNpy } from '../output';
import { explainFolder, folderUsage, isFolderInput } from './explainFolder';
import { COMMON, OPTIONS_USAGE, methodOptions, optionsFor, targetOf } from './explainFlags';

export const usage = `convlens explain MODEL INPUT --method NAME [--layer TENSOR|auto] [--target CLASS|top] [--versus CLASS] [--raw] [--out FILE.npy|FILE.png] [--colormap ${COLORMAP_NAMES.join('|')}] [--opacity A] [--json] ${OPTIONS_USAGE}\n       ${folderUsage}`;
export const faithfulnessUsage = 'convlens faithfulness MODEL INPUT --method NAME[,NAME...] [--layer TENSOR|auto] [--target CLASS|top] [--steps N] [--json] [method options]';

function progressLine(label: string): (fraction: number, message: string) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (fraction, message) => process.stderr.write(`\r${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${message}`.padEnd(79).slice(0, 79) + (fraction >= 1 ? '\n' : ''));
}

function describe(ctx: ModelContext, e: Explanation): string {
  const t = e.target;
  return t.kind === 'class' ? `${ctx.labelOf(t.index)} (#${t.index})` : `${ctx.labelOf(t.a)} rather than ${ctx.labelOf(t.b)}`;
}

export async function explainCommand(argv: string[]): Promise<void> {
  if (isFolderInput(argv)) return explainFolder(argv);
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
      model: ctx.model, input: input.tensor, target: targetOf(values),
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
        method, target: e.target, targetLabel: describe(ctx, e), layer: e.layer, shape: result.dims, raw: !!values.raw,
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
    for (const method of methods) {
      const explainContext = { model: ctx.model, input: input.tensor, target: targetOf(values), layer: typeof values.layer === 'string' ? values.layer : undefined, progress: progressLine(method) };
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
