import { channelStats } from '../../core/activations';
import { parse } from '../args';
import { MODEL_OPTIONS, withModel } from '../common';
import { fixed, printJson, printTable, terminalText, writeNpy } from '../output';
import { formatShape } from '../../core/tensor';

export const usage = 'convlens activations MODEL INPUT --layer TENSOR [--out act.npy] [--json]';

export async function activations(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { ...MODEL_OPTIONS, layer: { type: 'string' }, out: { type: 'string' } }, ['MODEL', 'INPUT']);
  if (typeof values.layer !== 'string') throw new Error('--layer TENSOR is required (see `convlens inspect MODEL` for the layer tensors)');
  const layer = values.layer;
  await withModel(positionals[0], values, async (ctx) => {
    const input = ctx.loadInput(positionals[1]);
    const outputs = await ctx.model.run(ctx.feeds(input.tensor), [layer]);
    const activation = outputs[layer];
    const stats = activation.dims.length >= 2 ? channelStats(activation) : [];
    const written = typeof values.out === 'string' ? writeNpy(values.out, activation) : undefined;
    const dead = stats.filter((s) => s.dead).map((s) => s.index);
    if (values.json) {
      printJson({ layer, shape: activation.dims, dtype: activation.dtype, channels: stats, deadChannels: dead, file: written });
      return;
    }
    console.log(`${terminalText(layer)} ${formatShape(activation.dims)} on ${terminalText(positionals[1])}`);
    if (stats.length > 0) {
      printTable([
        ['channel', 'mean', 'max', 'zeros', ''],
        ...stats.map((s) => [s.index, fixed(s.mean), fixed(s.max), `${(s.zeroFraction * 100).toFixed(0)}%`, s.dead ? 'dead' : '']),
      ]);
      console.log(`${dead.length} of ${stats.length} channels dead (never positive)${dead.length ? `: ${dead.join(', ')}` : ''}`);
    }
    if (written) console.log(`activation written to ${written}`);
  });
}
