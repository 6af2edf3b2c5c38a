// The README's first command: explains the bundled sample model on the bundled sample images
// with several methods, and writes overlays, scores and a report to a folder.
import * as fs from 'fs';
import * as path from 'path';
import { ModelContext } from '../../core/context';
import { explain } from '../../core/explain';
import { deletionInsertion } from '../../core/explain/faithfulness';
import { renderPng } from '../../core/render';
import { parse } from '../args';
import { openModel } from '../common';
import { fixed, printTable, terminalText, writeFile } from '../output';

export const usage = 'convlens demo [--out DIR] [--model MODEL] [--images DIR]';

const ROOT = path.resolve(__dirname, '..');
const DEMO_METHODS = ['gradcam', 'gradcam++', 'scorecam', 'integrated-gradients', 'occlusion'];

/**
 * Text from the model (labels, file names) as inert Markdown: control characters as visible
 * escapes, HTML's `<`, `>`, `&` as entities (a renderer would otherwise run raw HTML), and
 * Markdown's own marks (links, emphasis, table cells, headings) backslash-escaped.
 */
export function markdownText(text: string): string {
  return terminalText(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_{}[\]()#+\-.!|~]/g, '\\$&');
}

/** A file name as a link target: percent-encoded, parentheses too (they would end the link). */
function markdownLinkTarget(file: string): string {
  return encodeURIComponent(file).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function imagesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`sample images folder not found: ${dir}`);
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

export async function demo(argv: string[]): Promise<void> {
  const { values } = parse(argv, { out: { type: 'string' }, model: { type: 'string' }, images: { type: 'string' }, provider: { type: 'string' }, threads: { type: 'string' } }, []);
  const modelPath = typeof values.model === 'string' ? values.model : path.join(ROOT, 'sample/shapes.onnx');
  const imageFiles = imagesIn(typeof values.images === 'string' ? values.images : path.join(ROOT, 'sample/images'));
  const outDir = path.resolve(typeof values.out === 'string' ? values.out : 'demo-output');
  const ctx: ModelContext = openModel(modelPath, values);
  const report: string[] = [`# ConvLens demo: ${markdownText(path.basename(modelPath))}`, ''];
  const runtime = await ctx.model.baseSession();
  console.log(`model ${terminalText(modelPath)} on ${runtime.provider.toUpperCase()}, ${runtime.threads} threads per op (${terminalText(runtime.reason)})`);
  report.push(
    `Runs on ${runtime.provider.toUpperCase()} with ${runtime.threads} threads per op: ${markdownText(runtime.reason)}.`,
    `Preprocessing: ${markdownText(ctx.preprocessing?.explanation ?? 'unknown')}`,
    '',
  );
  const summary: unknown[] = [];
  try {
    for (const file of imageFiles) {
      const name = path.parse(file).name;
      const input = ctx.loadInput(file);
      const { top } = await ctx.predict(input.tensor, 3);
      console.log(`\n${terminalText(path.basename(file))}: ${top[0].map((p) => `${terminalText(p.label)} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`);
      report.push(
        `## ${markdownText(path.basename(file))}`,
        '',
        `Prediction: ${top[0].map((p) => `**${markdownText(p.label)}** ${(p.probability * 100).toFixed(1)}%`).join(', ')}`,
        '',
      );
      report.push('| method | map | deletion AUC ↓ | insertion AUC ↑ | seconds |', '|---|---|---|---|---|');
      const rows: (string | number)[][] = [['method', 'deletion AUC', 'insertion AUC', 'seconds']];
      const methods = [];
      for (const method of DEMO_METHODS) {
        const explainContext = { model: ctx.model, input: input.tensor, target: { kind: 'class' as const, index: 'top' as const } };
        const started = performance.now();
        const e = await explain(method, explainContext);
        const seconds = (performance.now() - started) / 1000;
        const f = await deletionInsertion(explainContext, e.map);
        const png = `${name}-${method.replace(/\W+/g, '_')}.png`;
        writeFile(path.join(outDir, png), renderPng(e.map, input.rgb));
        rows.push([method, fixed(f.deletion.normalizedAuc, 3), fixed(f.insertion.normalizedAuc, 3), fixed(seconds, 2)]);
        report.push(
          `| ${method} | ![${method}](${markdownLinkTarget(png)}) | ${fixed(f.deletion.normalizedAuc, 3)} | ${fixed(f.insertion.normalizedAuc, 3)} | ${fixed(seconds, 2)} |`,
        );
        methods.push({ method, file: png, deletionAuc: f.deletion.normalizedAuc, insertionAuc: f.insertion.normalizedAuc, seconds, notes: e.notes });
      }
      printTable(rows);
      report.push('');
      summary.push({ image: file, top: top[0], methods });
    }
  } finally {
    await ctx.dispose();
  }
  writeFile(path.join(outDir, 'README.md'), new TextEncoder().encode(report.join('\n') + '\n'));
  writeFile(path.join(outDir, 'summary.json'), new TextEncoder().encode(JSON.stringify(summary, null, 2)));
  console.log(`\noverlays, scores and a report written to ${outDir} (open README.md there)`);
}
