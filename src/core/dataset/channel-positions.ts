// Shortcut discovery without a marks file: where in the image a channel fires across the dataset.
// For each channel, the position of its maximum (argmax over the layer map, kept per image in
// DatasetFeatures.maxPosition) is counted in a coarse GRID × GRID grid over the map, on the images
// where the channel fires hardest (its top TOP_SHARE of images by peak activation, so images where
// the channel is silent and its argmax is noise do not count). Images are added one at a time, so
// the same accumulator serves a stream of images.
//
// A channel whose top activations land in one border cell of the grid (a corner or an edge) at
// least SHORTCUT_SHARE of the time is flagged as a likely shortcut: an object-centred feature fires
// wherever the object is, a watermark, ruler or tag fires where the mark sits. With a 4 × 4 grid a
// uniform spread puts 1/16 in each cell, so 1/2 is eight times chance.
import { DatasetError } from './errors';
import { DatasetFeatures } from './features';
import { RuleSet } from './rules';

/** Cells per side of the position grid. */
export const POSITION_GRID = 4;
/** Share of the images (by the channel's peak activation, highest first) whose peak positions count. */
export const TOP_SHARE = 0.25;
/** Share of counted peaks in one border cell from which a channel is flagged as a likely shortcut. */
export const SHORTCUT_SHARE = 0.5;
/** Mean-pooled rules whose held-out fidelity is below this suggest trying max pooling. */
export const WEAK_RULE_FIDELITY = 0.8;

export interface ChannelPositions {
  channel: number;
  grid: number;
  /** Row-major grid × grid counts of the counted peaks. */
  counts: number[];
  /** Images counted. */
  images: number;
  /** The cell holding most peaks, and its share of them. */
  peakCell: { row: number; col: number; share: number };
  /** Peak cell on the border of the grid with share ≥ SHORTCUT_SHARE. */
  likelyShortcut: boolean;
  /** 'bottom-right corner', 'top edge', 'centre'…: where the peak cell is. */
  where: string;
}

/** Counts positions of one channel's peaks on a layer map of `height` × `width` in a grid. */
export class PositionAccumulator {
  readonly counts: number[];
  images = 0;

  constructor(
    readonly height: number,
    readonly width: number,
    readonly grid = POSITION_GRID,
  ) {
    this.counts = new Array<number>(grid * grid).fill(0);
  }

  /** Adds one image's peak at y·width + x. */
  add(position: number): void {
    if (!Number.isInteger(position) || position < 0 || position >= this.height * this.width) {
      throw new DatasetError(`peak position ${position} is outside the ${this.height}×${this.width} map`);
    }
    const y = Math.floor(position / this.width);
    const x = position % this.width;
    // Cell of a map position: the grid splits the map into equal spans (a map smaller than the grid
    // uses only some cells; its border rows still land in border cells).
    const row = Math.min(this.grid - 1, Math.floor((y * this.grid) / this.height));
    const col = Math.min(this.grid - 1, Math.floor((x * this.grid) / this.width));
    this.counts[row * this.grid + col]++;
    this.images++;
  }

  result(channel: number): ChannelPositions {
    const g = this.grid;
    let best = 0;
    this.counts.forEach((c, i) => {
      if (c > this.counts[best]) best = i;
    });
    const row = Math.floor(best / g);
    const col = best % g;
    const share = this.images ? this.counts[best] / this.images : 0;
    const border = row === 0 || col === 0 || row === g - 1 || col === g - 1;
    return {
      channel,
      grid: g,
      counts: [...this.counts],
      images: this.images,
      peakCell: { row, col, share },
      likelyShortcut: border && share >= SHORTCUT_SHARE && this.height * this.width > 1,
      where: placeName(row, col, g),
    };
  }
}

function placeName(row: number, col: number, g: number): string {
  const vertical = row === 0 ? 'top' : row === g - 1 ? 'bottom' : '';
  const horizontal = col === 0 ? 'left' : col === g - 1 ? 'right' : '';
  if (vertical && horizontal) return `${vertical}-${horizontal} corner`;
  if (vertical || horizontal) return `${vertical || horizontal} edge`;
  return 'centre';
}

/** The peak positions of each channel over its top images of the dataset. */
export function channelPositions(features: DatasetFeatures, channels: number[], options: { grid?: number; topShare?: number } = {}): ChannelPositions[] {
  const [c, h, w] = features.layerShape;
  const n = features.images.length;
  const counted = Math.max(1, Math.round((options.topShare ?? TOP_SHARE) * n));
  return channels.map((channel) => {
    if (!Number.isInteger(channel) || channel < 0 || channel >= c) throw new DatasetError(`channel ${channel} does not exist: ${features.layer} has channels 0 to ${c - 1}`);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => features.maxPooled[b * c + channel] - features.maxPooled[a * c + channel] || a - b);
    const accumulator = new PositionAccumulator(h, w, options.grid);
    for (const i of order.slice(0, counted)) accumulator.add(features.maxPosition[i * c + channel]);
    return accumulator.result(channel);
  });
}

/** Why max pooling is worth a try, when rules distilled on mean pooling agree weakly with the network. */
export function poolingSuggestion(rules: Pick<RuleSet, 'pooling' | 'fidelity'>): string | undefined {
  if (rules.pooling !== 'mean' || rules.fidelity.test >= WEAK_RULE_FIDELITY) return undefined;
  return `The mean-pooled rules agree with the network on only ${Math.round(rules.fidelity.test * 100)}% of the held-out images (below ${WEAK_RULE_FIDELITY * 100}%): a channel that fires in a small place (a mark, a corner) is diluted by the mean; try max pooling.`;
}
