import { parse, intOption } from '../args';
import { MODEL_OPTIONS, withModel } from '../common';
import { fixed, printJson, printTable, terminalText, writeNpy } from '../output';
import { mayHaveTaskOutputs, readTaskOutputs, TaskOutputs, taskPredictions } from '../../core/task-outputs';

export const usage = 'convlens predict MODEL INPUT [--top K] [--json] [--out logits.npy] [--provider auto|cuda|cpu] [--threads N]';

/**
 * The top classes of the first output; for a segmentation model the classes of its predicted mask
 * by pixel share, for a detector its boxes after NMS by score (src/core/task-outputs.ts): the top
 * "classes" of a flattened mask or head would mean nothing.
 */
export async function predict(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, { ...MODEL_OPTIONS, top: { type: 'string' }, out: { type: 'string' } }, ['MODEL', 'INPUT']);
  const k = intOption(values.top, 'top', 5);
  await withModel(positionals[0], values, async (ctx) => {
    const input = ctx.loadInput(positionals[1]);
    const read = mayHaveTaskOutputs(ctx.model) ? await readTaskOutputs(ctx, input.tensor) : undefined;
    const task = read && read.task.kind !== 'none' ? read.task : undefined;
    const outputs = read?.outputs ?? (await ctx.model.run(ctx.feeds(input.tensor)));
    const first = outputs[ctx.model.summary().outputs[0].name];
    const top = task ? taskPredictions(task, k)! : ctx.topOf(outputs, k)[0];
    const written = typeof values.out === 'string' ? writeNpy(values.out, task ? outputs[task.output] : first) : undefined;
    if (values.json) {
      printJson({
        model: positionals[0],
        input: positionals[1],
        inputDescription: input.description,
        preprocessing: ctx.preprocessing?.explanation,
        top,
        ...(task ? { task: jsonTask(task, k) } : {}),
        logitsFile: written,
      });
      return;
    }
    console.log(terminalText(`${positionals[1]} (${input.description}) → ${ctx.name}`));
    if (task?.kind === 'segmentation') {
      console.log(terminalText(`segmentation: ${task.width}×${task.height} mask of '${task.output}', classes by their share of the pixels (the argmax of each pixel)`));
      printTable(
        top.map((p, i) => [
          `${i + 1}.`,
          terminalText(p.label),
          `${(p.probability * 100).toFixed(1)}% of pixels`,
          `mean logit ${fixed(p.logit, 3)}`,
          `#${p.index}`,
          `--target region:predicted,${p.index}`,
        ]),
      );
    } else if (task?.kind === 'detection') {
      console.log(terminalText(`detection: ${task.notes[0]}`));
      if (task.detections.length === 0) console.log(`no box scores ${task.minScore} or more`);
      printTable(
        task.detections.slice(0, k).map((d) => [
          `box ${d.index}`,
          terminalText(d.label),
          `score ${fixed(d.score, 3)}`,
          `[${d.box.map((v) => v.toFixed(1)).join(', ')}]`,
          `#${d.class}`,
          // box:I reads a graph output: a model with its own NMS is explained through --target top or K instead.
          task.ownNms ? '' : `--target box:${d.index}`,
        ]),
      );
      if (task.ownNms) console.log('the model runs its own NMS: explain its best box with --target top, or class K’s best box with --target K');
      if (task.detections.length > k) console.log(`… ${task.detections.length - k} more (--top)`);
    } else {
      printTable(top.map((p, i) => [`${i + 1}.`, p.label, `${(p.probability * 100).toFixed(1)}%`, `logit ${fixed(p.logit, 3)}`, `#${p.index}`]));
    }
    if (written) console.log(`${task ? `output '${task.output}'` : 'logits'} written to ${written}`);
  });
}

/** The task outputs in --json: classes by pixels, or the first k boxes (no per-pixel mask). */
function jsonTask(task: Exclude<TaskOutputs, { kind: 'none' }>, k: number): unknown {
  if (task.kind === 'segmentation') {
    const { classIds: _mask, ...rest } = task;
    return rest;
  }
  return { ...task, detections: task.detections.slice(0, k) };
}
