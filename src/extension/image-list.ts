// Which workspace images the panel offers first (no VS Code API here, so unit tests run it).
import * as path from 'path';

const naturally = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Up to `limit` of the files, every folder represented: folders under `near` first, shallow before
 * deep, then by name; files taken in turn from each folder (one dataset class folder cannot fill
 * the list), those near the model before the others, in natural order (2.png before 10.png); the result ordered by folder.
 */
export function pickImages(files: string[], limit: number, near?: string): string[] {
  const byFolder = new Map<string, string[]>();
  for (const f of files) byFolder.set(path.dirname(f), [...(byFolder.get(path.dirname(f)) ?? []), f]);
  const rank = (folder: string) => (near && (folder === near || folder.startsWith(near + path.sep)) ? 0 : 1);
  const depth = (folder: string) => folder.split(path.sep).length;
  const folders = [...byFolder.keys()].sort((a, b) => rank(a) - rank(b) || depth(a) - depth(b) || naturally(a, b));
  const taken = new Map<string, string[]>(folders.map((folder) => [folder, []]));
  let count = 0;
  // Folders near the model share the list first; the others only fill what is left.
  for (const tier of [0, 1]) {
    const queues = folders.filter((folder) => rank(folder) === tier).map((folder) => ({ folder, files: byFolder.get(folder)!.sort(naturally) }));
    for (let round = 0; count < limit && queues.some((q) => q.files.length > round); round++) {
      for (const q of queues) {
        if (count >= limit || round >= q.files.length) continue;
        taken.get(q.folder)!.push(q.files[round]);
        count++;
      }
    }
  }
  return folders.flatMap((folder) => taken.get(folder)!);
}
