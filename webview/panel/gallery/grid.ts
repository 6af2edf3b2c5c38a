// The "Explain all" grid: one card per explained image (the image with its map over it in the
// panel's colormap and opacity, the file name, the predicted class and its probability), sorted
// and filtered by predicted class or score. The grid is virtualised: a scroll box with a spacer as
// tall as all the rows, and only the cards of the rows in view (and one row either side) in the
// DOM, so thousands of cards cost a few dozen elements; their images are decoded when drawn and not
// kept. A click (or Enter) on a card opens that image in the Explain tab.
import type { GalleryCardView } from '../../../src/protocol';
import type { ColormapName, MapLike } from '../../colormap';
import { h, percent, replaceChildren } from '../../dom';
import { drawOverlay } from '../../overlay';

/**
 * A card as the view keeps it, thousands at a time: the map as one byte a value, the colormap's
 * level (colorize draws round(255 t) with t = v for unsigned maps, (v + 1) / 2 for signed ones),
 * so the colours drawn are those of the full values (a signed map's alpha, |v|, within one level).
 */
export interface GalleryCard extends Omit<GalleryCardView, 'map'> {
  map?: { width: number; height: number; levels: Uint8Array; signed?: boolean };
}

export function keptCard(c: GalleryCardView): GalleryCard {
  const m = c.map;
  if (!m) return { ...c, map: undefined };
  const level = (v: number) => Math.round(255 * (m.signed ? (Math.min(1, Math.max(-1, v)) + 1) / 2 : Math.min(1, Math.max(0, v))));
  return { ...c, map: { width: m.width, height: m.height, levels: Uint8Array.from(m.values, level), signed: m.signed } };
}

/** The kept map as values colorize reads back to the same levels. */
function mapOf(map: NonNullable<GalleryCard['map']>): MapLike {
  const values = Float32Array.from(map.levels, (q) => (map.signed ? (2 * q) / 255 - 1 : q / 255));
  return { width: map.width, height: map.height, values, signed: map.signed };
}

export type GallerySort = 'name' | 'score-desc' | 'score-asc' | 'class';

export interface GalleryFilter {
  /** A predicted class index, 'failed' for images without an explanation, or undefined for all. */
  classIndex?: number | 'failed';
  /** Lowest probability of the prediction, in [0, 1]. */
  minScore: number;
}

/** The cards a sort and a filter keep, in their order (ties by the folder's order). */
export function arrange(cards: readonly GalleryCard[], sort: GallerySort, filter: GalleryFilter): GalleryCard[] {
  const kept = cards.filter((c) => {
    if (filter.classIndex === 'failed') return !!c.error;
    if (filter.classIndex !== undefined && c.prediction?.index !== filter.classIndex) return false;
    return filter.minScore <= 0 || (c.prediction?.probability ?? 0) >= filter.minScore;
  });
  const score = (c: GalleryCard) => c.prediction?.probability ?? -1;
  const byIndex = (a: GalleryCard, b: GalleryCard) => a.index - b.index;
  const order: Record<GallerySort, (a: GalleryCard, b: GalleryCard) => number> = {
    name: byIndex,
    'score-desc': (a, b) => score(b) - score(a) || byIndex(a, b),
    'score-asc': (a, b) => score(a) - score(b) || byIndex(a, b),
    class: (a, b) => (a.prediction?.label ?? '\uffff').localeCompare(b.prediction?.label ?? '\uffff') || score(b) - score(a) || byIndex(a, b),
  };
  return kept.sort(order[sort]);
}

/** A card's size in CSS pixels with its gap (gallery.css draws it so). */
const CARD_WIDTH = 104;
const ROW_HEIGHT = 150;
const GAP = 8;
/** The scroll box's padding (gallery.css): inside its clientWidth, outside the cards' room. */
const PADDING = 6;
/** Canvas pixels of a card's picture (drawn at 96 CSS pixels). */
const PICTURE = 96;

export class CardGrid {
  readonly element: HTMLElement;
  private readonly spacer = h('div', { class: 'explain-all-spacer' });
  private cards: GalleryCard[] = [];
  private readonly shown = new Map<number, HTMLElement>();
  private display: { colormap: ColormapName; opacity: number } = { colormap: 'viridis', opacity: 0.5 };
  private frame = 0;

  constructor(private readonly open: (card: GalleryCard) => void) {
    this.element = h('div', { class: 'explain-all-scroll', role: 'list', 'aria-label': 'Explained images', tabindex: -1 }, this.spacer);
    this.element.addEventListener('scroll', () => this.schedule());
    // A hidden tab has no size: the rows are laid out again when it is shown (or the view resized).
    new ResizeObserver(() => this.schedule()).observe(this.element);
  }

  /** The cards to show, in order. */
  setCards(cards: GalleryCard[]): void {
    this.cards = cards;
    for (const el of this.shown.values()) el.remove();
    this.shown.clear();
    this.schedule();
  }

  setDisplay(colormap: ColormapName, opacity: number): void {
    if (colormap === this.display.colormap && opacity === this.display.opacity) return;
    this.display = { colormap, opacity };
    for (const el of this.shown.values()) el.remove();
    this.shown.clear();
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.layout();
    });
  }

  /** Places the cards of the rows in view, removing the others. */
  layout(): void {
    const width = this.element.clientWidth - 2 * PADDING;
    const columns = Math.max(1, Math.floor((width + GAP) / (CARD_WIDTH + GAP)));
    const rows = Math.ceil(this.cards.length / columns);
    this.spacer.style.height = `${rows * ROW_HEIGHT}px`;
    const first = Math.max(0, Math.floor(this.element.scrollTop / ROW_HEIGHT) - 1);
    const last = Math.min(rows - 1, Math.ceil((this.element.scrollTop + Math.max(this.element.clientHeight, ROW_HEIGHT)) / ROW_HEIGHT) + 1);
    const wanted = new Set<number>();
    for (let row = first; row <= last; row++) {
      for (let column = 0; column < columns; column++) {
        const position = row * columns + column;
        const card = this.cards[position];
        if (!card) break;
        wanted.add(card.index);
        let el = this.shown.get(card.index);
        if (!el) {
          el = this.cardElement(card);
          this.shown.set(card.index, el);
          this.spacer.append(el);
        }
        el.style.transform = `translate(${column * (CARD_WIDTH + GAP)}px, ${row * ROW_HEIGHT}px)`;
        el.setAttribute('aria-posinset', String(position + 1));
        el.setAttribute('aria-setsize', String(this.cards.length));
      }
    }
    for (const [index, el] of this.shown) {
      if (wanted.has(index)) continue;
      if (el.contains(document.activeElement)) continue; // the focused card stays until focus moves on
      el.remove();
      this.shown.delete(index);
    }
  }

  private cardElement(card: GalleryCard): HTMLElement {
    const p = card.prediction;
    const what = card.error ? `not explained: ${card.error}` : p ? `predicted ${p.label}, ${percent(p.probability, 0)}` : 'explained';
    const canvas = h('canvas', { class: 'explain-all-picture', width: PICTURE, height: PICTURE, 'aria-hidden': 'true' });
    const button = h(
      'button',
      {
        type: 'button',
        class: `explain-all-card${card.error ? ' failed' : ''}`,
        'data-index': card.index,
        'data-rel-path': card.relPath,
        // Its name is what it shows (file name, prediction); the tooltip says the rest.
        title: `${card.relPath}\n${what}\nClick to open it in Explain with these settings.`,
        onClick: () => this.open(card),
      },
      canvas,
      h('span', { class: 'explain-all-name' }, card.relPath.split('/').pop() ?? card.relPath),
      h('span', { class: card.error ? 'explain-all-prediction warning' : 'explain-all-prediction' }, card.error ? 'failed' : p ? `${p.label} · ${percent(p.probability, 0)}` : ''),
    );
    void this.draw(canvas, card);
    return h('div', { class: 'explain-all-item', role: 'listitem' }, button);
  }

  private async draw(canvas: HTMLCanvasElement, card: GalleryCard): Promise<void> {
    let image: HTMLImageElement | undefined;
    if (card.image) {
      image = new Image();
      image.src = card.image;
      try {
        await image.decode();
      } catch {
        image = undefined;
      }
    }
    drawOverlay(canvas, image, card.map && mapOf(card.map), { ...this.display, minSide: PICTURE });
  }

  /** Removes every card (a new run, another model). */
  clear(): void {
    this.setCards([]);
    replaceChildren(this.spacer);
  }
}
