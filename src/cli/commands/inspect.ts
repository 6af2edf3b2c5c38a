import { ConvModel } from '../../core/model';
import { formatShape } from '../../core/tensor';
import { parse } from '../args';
import { activationMemoryOption, providerOption } from '../common';
import { printJson, printTable } from '../output';

export const usage = 'convlens inspect MODEL [--json] [--provider auto|cuda|cpu] [--max-activation-mb N]';

export async function inspect(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { json: { type: 'boolean' }, provider: { type: 'string' }, 'max-activation-mb': { type: 'string' } }, ['MODEL']);
  const model = ConvModel.load(positionals[0], { provider: providerOption(values.provider), activationMemory: activationMemoryOption(values['max-activation-mb']) });
  try {
    const summary = model.summary();
    const layers = await model.layers();
    const runtime = await model.baseSession();
    if (values.json) {
      printJson({ ...summary, provider: { name: runtime.provider, reason: runtime.reason }, batchDynamic: await model.supportsBatch(), layers });
      return;
    }
    console.log(`${positionals[0]}`);
    console.log(`  producer ${summary.producer}, IR v${summary.irVersion}, opset ${summary.opset}, ${summary.nodeCount} nodes, ${summary.parameterCount.toLocaleString('en-US')} parameters`);
    console.log(`  runs on ${runtime.provider.toUpperCase()} (${runtime.reason}); batch ${(await model.supportsBatch()) ? 'dynamic' : 'fixed: inputs run one at a time'}`);
    for (const t of summary.inputs) console.log(`  input  ${t.name} ${t.dtype} ${formatShape(t.shape)}`);
    for (const t of summary.outputs) console.log(`  output ${t.name} ${t.dtype} ${formatShape(t.shape)}`);
    console.log('  ops: ' + Object.entries(summary.opHistogram).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ${n}`).join(', '));
    console.log(`  layers (${layers.length}):`);
    printTable(layers.map((l) => [l.name, l.opType, l.outputs.map((o) => `${o.name} ${o.shape ? formatShape(o.shape) : '?'}`).join(' ')]), '    ');
  } finally {
    await model.dispose();
  }
}
