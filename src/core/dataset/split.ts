// A deterministic held-out split: within each group (folder label, or the network's prediction for
// unlabelled images) images are ordered by an FNV-1a hash of their relative path and the first
// round(fraction · group size) are held out. The same image stays on the same side when others are
// added, and no random seed is involved.
import { DatasetError } from './errors';
import { stringHash } from '../random';

/** true for each held-out item. */
export function holdoutSplit(names: readonly string[], groups: readonly number[], fraction: number): boolean[] {
  if (!(fraction >= 0 && fraction < 1)) throw new DatasetError(`the held-out fraction must be in [0, 1), got ${fraction}`);
  const byGroup = new Map<number, number[]>();
  names.forEach((_, i) => {
    const list = byGroup.get(groups[i]);
    if (list) list.push(i);
    else byGroup.set(groups[i], [i]);
  });
  const heldOut = new Array<boolean>(names.length).fill(false);
  for (const members of byGroup.values()) {
    const ordered = members.map((i) => ({ i, h: stringHash(names[i]) })).sort((a, b) => a.h - b.h || (names[a.i] < names[b.i] ? -1 : 1));
    const count = Math.round(fraction * members.length);
    for (let j = 0; j < count; j++) heldOut[ordered[j].i] = true;
  }
  return heldOut;
}
