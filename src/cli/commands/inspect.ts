import { ConvModel, LayerInfo, ModelSummary } from '../../core/model';
import { formatShape } from '../../core/tensor';
import { parse } from '../args';
import { activationMemoryOption, megapixelsOption, providerOption, threadsOption } from '../common';
import { printJson, printTable, terminalText } from '../output';

export const usage = 'convlens inspect MODEL [--json] [--provider auto|cuda|cpu] [--threads N] [--max-activation-mb N] [--max-megapixels N]';

export interface ModelDescription extends ModelSummary {
  provider: { name: string; reason: string; threads: number };
  batchDynamic: boolean;
  layers: LayerInfo[];
  /** Why layer shapes are missing, on a graph too large to probe. */
  shapesNote?: string;
}

/** What `inspect` reports, as data: the summary, where it runs, and the layers with shapes. */
export async function describeModel(model: ConvModel): Promise<ModelDescription> {
  const summary = model.summary();
  const layers = await model.layers();
  const runtime = await model.baseSession();
  return {
    ...summary,
    provider: { name: runtime.provider, reason: runtime.reason, threads: runtime.threads },
    batchDynamic: await model.supportsBatch(),
    layers,
    shapesNote: model.shapeProbeLimit,
  };
}

export async function inspect(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    { json: { type: 'boolean' }, provider: { type: 'string' }, threads: { type: 'string' }, 'max-activation-mb': { type: 'string' }, 'max-megapixels': { type: 'string' } },
    ['MODEL'],
  );
  const model = ConvModel.load(positionals[0], {
    provider: providerOption(values.provider),
    threads: threadsOption(values.threads),
    activationMemory: activationMemoryOption(values['max-activation-mb']),
    sizeLimits: megapixelsOption(values['max-megapixels']),
  });
  try {
    const d = await describeModel(model);
    if (values.json) {
      printJson(d);
      return;
    }
    // Every name below comes from the model file: escaped so it shows rather than acts.
    const t = terminalText;
    console.log(t(positionals[0]));
    console.log(`  producer ${t(d.producer)}, IR v${d.irVersion}, opset ${d.opset}, ${d.nodeCount} nodes, ${d.parameterCount.toLocaleString('en-US')} parameters`);
    console.log(
      `  runs on ${d.provider.name.toUpperCase()}, ${d.provider.threads} threads per op (${t(d.provider.reason)}); batch ${d.batchDynamic ? 'dynamic' : 'fixed: inputs run one at a time'}`,
    );
    for (const info of d.inputs) console.log(`  input  ${t(info.name)} ${info.dtype} ${t(formatShape(info.shape))}`);
    for (const info of d.outputs) console.log(`  output ${t(info.name)} ${info.dtype} ${t(formatShape(info.shape))}`);
    console.log(
      '  ops: ' +
        Object.entries(d.opHistogram)
          .sort((a, b) => b[1] - a[1])
          .map(([op, n]) => `${t(op)} ${n}`)
          .join(', '),
    );
    console.log(`  layers (${d.layers.length})${d.shapesNote ? `; ${d.shapesNote}` : ''}:`);
    printTable(
      d.layers.map((l) => [l.name, l.opType, l.outputs.map((o) => `${o.name} ${o.shape ? formatShape(o.shape) : '?'}`).join(' ')]),
      '    ',
    );
  } finally {
    await model.dispose();
  }
}
