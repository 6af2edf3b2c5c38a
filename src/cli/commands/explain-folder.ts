// `convlens explain MODEL FOLDER|GLOB --method M --out-dir D`: one explanation per image of a
// folder, image after image through core/dataset/explain-images.ts (the loop the panel's "Explain
// all" shares; memory stays that of two images), each written atomically as
// soon as it is done, so a run that is cancelled or crashes resumes where it stopped: images whose
// output file exists are skipped. --shard I/N (or the scheduler's variables) takes one shard of
// the images, split as `convlens dataset` splits them.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { COLORMAP_NAMES, ColormapName } from '../../core/image/colormap';
import { DatasetImage, describeShard, listDataset, shardOfPath } from '../../core/dataset';
import { progressWithEta } from '../../core/dataset/features';
import { explainImages } from '../../core/dataset/explain-images';
import { methodNames } from '../../core/explain';
import { renderPng } from '../../core/render';
import { numberOption, parse } from '../args';
import { targetOf, withModel } from '../common';
import { printJson, writeFile, writeNpy } from '../output';
import { COMMON, methodOptions, optionsFor } from './explain-flags';
import { SHARD_OPTIONS, shardOption } from './shard';

const FOLDER_OPTIONS = {
  ...COMMON,
  ...SHARD_OPTIONS,
  raw: { type: 'boolean' },
  'out-dir': { type: 'string' },
  format: { type: 'string' },
  colormap: { type: 'string' },
  opacity: { type: 'string' },
} as const;

export const folderUsage = 'convlens explain MODEL FOLDER|GLOB --method NAME --out-dir DIR [--format png|npy] [--raw] [--shard I/N] [method options as for one image]';

const GLOB_CHARS = /[*?[]/;

/** Whether the INPUT of `convlens explain` names a folder or a glob rather than one image. */
export function isFolderInput(argv: string[]): boolean {
  const { positionals } = parseArgs({ args: argv, options: FOLDER_OPTIONS, allowPositionals: true, strict: false });
  const input = positionals[1];
  if (input === undefined) return false;
  if (GLOB_CHARS.test(input)) return true;
  try {
    return fs.statSync(input).isDirectory();
  } catch {
    return false;
  }
}

/** A glob's pattern as a regular expression over '/'-separated relative paths: '**' any folders, '*' and '?' within a name. */
function globRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) source += '\\[';
      else {
        source += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The images of a folder, or of the folder above a glob's first wildcard filtered by the glob; sorted by relative path. */
export function imagesOf(input: string): { root: string; images: DatasetImage[] } {
  if (!GLOB_CHARS.test(input)) return listDataset(input);
  const parts = input.split(/[\\/]/);
  const firstWild = parts.findIndex((p) => GLOB_CHARS.test(p));
  const root = parts.slice(0, firstWild).join('/') || '.';
  const pattern = globRegExp(parts.slice(firstWild).join('/'));
  const listing = listDataset(root);
  const images = listing.images.filter((im) => pattern.test(im.relPath));
  if (images.length === 0) throw new Error(`no .png or .jpg image matches ${input}`);
  return { root: listing.root, images };
}

export async function explainFolder(argv: string[]): Promise<void> {
  const { positionals, values } = parse(argv, FOLDER_OPTIONS, ['MODEL', 'FOLDER']);
  if (typeof values.method !== 'string') throw new Error(`--method NAME is required; the methods are ${methodNames().join(', ')}`);
  if (typeof values['out-dir'] !== 'string') throw new Error('--out-dir DIR is required for a folder: one file per image goes there');
  const method = values.method;
  const outDir = path.resolve(values['out-dir']);
  const format = (values.format ?? 'png') as 'png' | 'npy';
  if (format !== 'png' && format !== 'npy') throw new Error("--format takes 'png' or 'npy'");
  if (values.raw && format !== 'npy') throw new Error('--raw gives tensors: add --format npy');
  const colormap = (values.colormap ?? 'viridis') as ColormapName;
  if (!COLORMAP_NAMES.includes(colormap)) throw new Error(`--colormap takes ${COLORMAP_NAMES.join(', ')}`);
  const shard = shardOption(values);
  const listing = imagesOf(positionals[1]);
  const images = shard ? listing.images.filter((im) => shardOfPath(im.relPath, shard.count) === shard.index) : listing.images;
  const outputOf = (im: DatasetImage) => path.join(outDir, `${im.relPath.replace(/\.[^./]+$/, '')}.${format}`);
  const todo = images.filter((im) => !fs.existsSync(outputOf(im)));
  const failed: { relPath: string; reason: string }[] = [];
  const progress = process.stderr.isTTY ? (line: string, end: boolean) => process.stderr.write(`\r${line}`.padEnd(100).slice(0, 100) + (end ? '\n' : '')) : undefined;
  await withModel(positionals[0], values, async (ctx) => {
    const options = optionsFor(method, methodOptions(values));
    const target = await targetOf(ctx, values);
    const layer = typeof values.layer === 'string' ? values.layer : undefined;
    const started = Date.now();
    let done = 0;
    for await (const { image: im, input, explanation: e, error } of explainImages(ctx, todo, { method, target, layer, options })) {
      if (e && input) {
        try {
          if (format === 'png') writeFile(outputOf(im), renderPng(e.map, input.rgb, { colormap, opacity: numberOption(values.opacity, 'opacity') }));
          else writeNpy(outputOf(im), values.raw ? e.raw : e.map);
          done++;
        } catch (err) {
          failed.push({ relPath: im.relPath, reason: (err as Error).message });
        }
      } else failed.push({ relPath: im.relPath, reason: error ?? 'no explanation' });
      const finished = images.length - todo.length + done + failed.length;
      progress?.(
        `${method}${shard ? ` (${describeShard(shard)})` : ''}: ${progressWithEta(finished, images.length, done, todo.length - done - failed.length, started, Date.now())}`,
        finished === images.length,
      );
    }
  });
  const summary = { method, outDir, shard, images: images.length, written: todo.length - failed.length, alreadyThere: images.length - todo.length, failed };
  if (values.json) {
    printJson(summary);
    return;
  }
  console.log(`${method} on ${images.length} images${shard ? ` (${describeShard(shard)})` : ''}: ${summary.written} written, ${summary.alreadyThere} already in ${outDir}`);
  for (const f of failed.slice(0, 5)) console.log(`  failed: ${f.relPath}: ${f.reason}`);
  if (failed.length > 5) console.log(`  … and ${failed.length - 5} more failed`);
}
