import * as path from 'path';
import { gradientsOf } from '../../core/explain/gradients';
import { describeTarget, resolveTarget } from '../../core/explain/target';
import { maxAbs, formatShape } from '../../core/tensor';
import { parse } from '../args';
import { MODEL_OPTIONS, TARGET_OPTIONS, TARGET_USAGE, targetJson, targetOf, withModel } from '../common';
import { printJson, terminalText, writeNpy } from '../output';

export const usage = `convlens gradient MODEL INPUT --wrt TENSOR[,TENSOR...] ${TARGET_USAGE} [--out FILE.npy | --out-dir DIR] [--json]`;

/** File name for a tensor's gradient: tensor names hold slashes and colons. */
function fileNameFor(tensor: string): string {
  return `grad_${tensor.replace(/^\/+/, '').replace(/[^\w.-]+/g, '_')}.npy`;
}

export async function gradient(argv: string[]): Promise<void> {
  const { positionals, values } = parse(
    argv,
    {
      ...MODEL_OPTIONS,
      ...TARGET_OPTIONS,
      wrt: { type: 'string' },
      out: { type: 'string' },
      'out-dir': { type: 'string' },
    },
    ['MODEL', 'INPUT'],
  );
  if (typeof values.wrt !== 'string') throw new Error("--wrt TENSOR[,TENSOR...] is required ('input' names the model's input)");
  await withModel(positionals[0], values, async (ctx) => {
    const wrt = values
      .wrt!.toString()
      .split(',')
      .map((t) => (t === 'input' ? ctx.inputInfo.name : t));
    if (typeof values.out === 'string' && wrt.length > 1) throw new Error('--out takes one tensor; use --out-dir for several');
    const input = ctx.loadInput(positionals[1]);
    const { target, output: outputValue } = await resolveTarget(ctx.model, input.tensor, await targetOf(ctx, values));
    // Through the explanation methods' gradients, so an all-zero gradient is refused the same way.
    const { gradients } = await gradientsOf({ model: ctx.model, input: input.tensor, target }, target, outputValue.dims, input.tensor, wrt);
    const files = new Map<string, string>();
    for (const name of wrt) {
      const file = typeof values.out === 'string' ? values.out : typeof values['out-dir'] === 'string' ? path.join(values['out-dir'], fileNameFor(name)) : undefined;
      if (file) files.set(name, writeNpy(file, gradients[name]));
    }
    const described = wrt.map((name) => ({ tensor: name, shape: gradients[name].dims, maxAbs: maxAbs(gradients[name].data as Float32Array), file: files.get(name) }));
    if (values.json) {
      printJson({ target: target.kind === 'class' ? { class: target.index, label: ctx.labelOf(target.index) } : targetJson(target), output: target.output, gradients: described });
      return;
    }
    const about = target.kind === 'class' ? `${target.output}[${target.index}] (${ctx.labelOf(target.index)})` : `${target.output}: ${describeTarget(target)}`;
    for (const g of described)
      console.log(`∂ ${terminalText(about)} / ∂ ${terminalText(g.tensor)}: ${formatShape(g.shape)}, max |grad| ${g.maxAbs.toExponential(3)}${g.file ? ` → ${g.file}` : ''}`);
    if (files.size === 0) console.log('(give --out FILE.npy or --out-dir DIR to save the gradients)');
  });
}
