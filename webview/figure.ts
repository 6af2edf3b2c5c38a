// An image with an explanation map over it, redrawn when the image, the map or the display
// settings change; and the controls for those settings (opacity, colormap, legend).
import type { ImageView, MapData } from '../src/protocol';
import { COLORMAPS, ColormapName, isColormap } from './colormap';
import { h, selectOption, setOptions } from './dom';
import { drawLegend, drawOverlay, loadImage } from './overlay';
import { compactPicture } from './panel/signal/compact';
import { State, Store } from './store';

export class OverlayFigure {
  readonly canvas: HTMLCanvasElement;
  private drawn?: { image?: ImageView; map?: MapData; colormap: ColormapName; opacity: number };
  private generation = 0;

  constructor(
    label: string,
    private readonly minSide = 320,
  ) {
    this.canvas = h('canvas', { class: 'overlay', role: 'img', 'aria-label': label });
  }

  /** Draws (once the image is decoded); `key` lands in data-rendered when done, for whoever waits on it. */
  async show(image: ImageView | undefined, map: MapData | undefined, s: Pick<State, 'colormap' | 'opacity'>, key: string): Promise<void> {
    const d = this.drawn;
    if (d && d.image === image && d.map === map && d.colormap === s.colormap && d.opacity === s.opacity) return;
    this.drawn = { image, map, colormap: s.colormap, opacity: s.opacity };
    const generation = ++this.generation;
    // A signal's or a video's map is drawn compactly here (the Explain tab has their full figures).
    const picture = compactPicture(image, map);
    let decoded: HTMLImageElement | undefined;
    try {
      decoded = picture.dataUrl ? await loadImage(picture.dataUrl) : undefined;
    } catch {
      decoded = undefined; // an undecodable image still shows its map
    }
    if (generation !== this.generation) return;
    drawOverlay(this.canvas, decoded, picture.map, { colormap: s.colormap, opacity: s.opacity, minSide: this.minSide });
    this.canvas.dataset.rendered = key;
  }
}

/** Opacity slider and (optionally) colormap select with a legend; they edit the store's display settings. */
export class DisplayControls {
  readonly element: HTMLElement;
  private readonly opacity: HTMLInputElement;
  private readonly colormap?: HTMLElement & { value: string };
  private readonly legend = h('canvas', { class: 'legend', 'aria-hidden': 'true' });
  private readonly legendLabels = h('span', { class: 'legend-labels muted small' });
  private shown?: { colormap: ColormapName; signed: boolean };

  constructor(
    private readonly store: Store,
    options: { idPrefix: string; colormap: boolean },
  ) {
    this.opacity = h('input', { type: 'range', id: `${options.idPrefix}opacity`, min: 0, max: 100, step: 5, 'aria-label': 'Overlay opacity' });
    this.opacity.addEventListener('input', () => {
      const opacity = Number(this.opacity.value) / 100;
      store.update({ opacity });
    });
    const parts: HTMLElement[] = [h('label', { class: 'control', for: `${options.idPrefix}opacity` }, h('span', { class: 'control-label' }, 'Opacity'), this.opacity)];
    if (options.colormap) {
      const select = h('vscode-single-select', { id: `${options.idPrefix}colormap`, label: 'Colormap' }) as HTMLElement & { value: string };
      setOptions(
        select,
        COLORMAPS.map((c) => ({ value: c, label: c })),
        store.state.colormap,
      );
      select.addEventListener('change', () => {
        if (!isColormap(select.value)) return;
        store.update({ colormap: select.value });
      });
      this.colormap = select;
      parts.push(h('span', { class: 'control' }, h('span', { class: 'control-label' }, 'Colormap'), select), h('span', { class: 'legend-box' }, this.legend, this.legendLabels));
    }
    this.element = h('div', { class: 'display-controls' }, parts);
    store.subscribe((s) => this.render(s));
  }

  /** Signed maps always use the diverging map: the legend says so. */
  setSigned(signed: boolean): void {
    this.renderLegend(this.store.state.colormap, signed);
  }

  private render(s: State): void {
    const value = String(Math.round(s.opacity * 100));
    if (this.opacity.value !== value) this.opacity.value = value;
    if (this.colormap && this.colormap.value !== s.colormap) selectOption(this.colormap, s.colormap);
    this.renderLegend(s.colormap, this.shown?.signed ?? false);
  }

  private renderLegend(colormap: ColormapName, signed: boolean): void {
    if (!this.colormap || (this.shown?.colormap === colormap && this.shown.signed === signed)) return;
    this.shown = { colormap, signed };
    drawLegend(this.legend, colormap, signed);
    this.legendLabels.textContent = signed ? '−1 · 0 · +1 (signed: diverging map)' : 'low → high';
  }
}
