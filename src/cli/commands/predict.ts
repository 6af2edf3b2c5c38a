import { parse, intOption } from '../args';
import { MODEL_OPTIONS, withModel } from '../common';
import { fixed, printJson, printTable, terminalText, writeNpy } from '../output';

export const usage = 'convlens predict MODEL INPUT [--top K] [--json] [--out logits.npy] [--provider auto|cuda|cpu]';

export async function predict(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { ...MODEL_OPTIONS, top: { type: 'string' }, out: { type: 'string' } }, ['MODEL', 'INPUT']);
  const k = intOption(values.top, 'top', 5);
  await withModel(positionals[0], values, async (ctx) => {
    const input = ctx.loadInput(positionals[1]);
    const { logits, top } = await ctx.predict(input.tensor, k);
    const written = typeof values.out === 'string' ? writeNpy(values.out, logits) : undefined;
    if (values.json) {
      printJson({
        model: positionals[0],
        input: positionals[1],
        inputDescription: input.description,
        preprocessing: ctx.preprocessing?.explanation,
        top: top[0],
        logitsFile: written,
      });
      return;
    }
    console.log(terminalText(`${positionals[1]} (${input.description}) → ${ctx.name}`));
    printTable(top[0].map((p, i) => [`${i + 1}.`, p.label, `${(p.probability * 100).toFixed(1)}%`, `logit ${fixed(p.logit, 3)}`, `#${p.index}`]));
    if (written) console.log(`logits written to ${written}`);
  });
}
