// The input files a model's panel offers and accepts beyond pictures: a signal model [N, C, L]
// takes .npy tensors and WAV files, a video model [N, C, T, H, W] .npy tensors. The workspace's
// candidates are read only as far as their headers (through the core's checked reader), and only
// those whose declared shape fits the model are listed, so a folder of other tensors adds no noise.
import * as vscode from 'vscode';
import { readFileChecked } from '../core/files';
import { readNpyHeader } from '../core/npy';
import { InputKind, inputKindOf } from '../core/preprocess';
import { readWavInfo } from '../core/wav';
import { pickImages } from './image-list';

export { InputKind, inputKindOf };

/** The file dialog's filters for a model's inputs. */
export const INPUT_FILTERS: Record<InputKind, Record<string, string[]>> = {
  image: { Images: ['png', 'jpg', 'jpeg'] },
  signal: { 'Signals (.npy, WAV)': ['npy', 'wav'] },
  video: { 'Video clips (.npy)': ['npy'] },
};

const GLOBS: Record<Exclude<InputKind, 'image'>, string> = {
  signal: '**/*.{npy,wav,NPY,WAV}',
  video: '**/*.{npy,NPY}',
};
const EXCLUDED = '{**/node_modules/**,**/.*/**,**/out/**,**/dist/**}';
// Headers of .npy (version 1–3) and the chunks before a WAV's samples fit well within this.
const HEADER_BYTES = 64 * 1024;

/** The shape a .npy or WAV file declares, read from its first bytes; undefined when it declares none we read. */
export function declaredShape(file: string): number[] | undefined {
  try {
    const head = readFileChecked(file, { what: 'input file', maxBytes: Infinity, limitHint: '', firstBytes: HEADER_BYTES });
    if (/\.wav$/i.test(file)) {
      const info = readWavInfo(head);
      return [1, info.channels, info.frames];
    }
    return readNpyHeader(head).dims;
  } catch {
    return undefined;
  }
}

/** Whether a declared shape is the model's input (with or without the batch axis; symbolic dimensions match any size). */
export function shapeFits(dims: number[], expected: readonly (number | string)[]): boolean {
  const full = dims.length === expected.length - 1 ? [1, ...dims] : dims;
  return full.length === expected.length && expected.every((d, i) => typeof d !== 'number' || d <= 0 || d === full[i]);
}

/**
 * Up to `limit` workspace files a signal or video model can take, near the model first (see
 * pickImages). A WAV's declared length counts its whole frames as the reader does, but a file
 * that declares more than it holds is listed and then refused with the reader's sentence.
 */
export async function workspaceInputs(kind: Exclude<InputKind, 'image'>, expected: readonly (number | string)[], limit: number, near?: string): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles(GLOBS[kind], EXCLUDED, 2000);
  const fitting = found
    .filter((u) => u.scheme === 'file')
    .map((u) => u.fsPath)
    .filter((f) => {
      const dims = declaredShape(f);
      return dims !== undefined && shapeFits(dims, expected);
    });
  return pickImages(fitting, limit, near).map((f) => vscode.Uri.file(f));
}
