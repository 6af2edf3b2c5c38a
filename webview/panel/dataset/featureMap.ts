// The dataset in the network's feature space (penultimate features) as a 2-D scatter, by PCA or
// UMAP: one point per image, coloured by folder label, prediction, correctness or any channel of
// the dataset's layer (its mean over each image, on viridis from the lowest to the highest); misclassified
// images are drawn larger with a ring, on top. Hovering (or arrow keys on the focused map) shows
// the image, clicking (or Enter) opens it in the Explain tab.
import type { ChannelValuesView, DatasetView, EmbeddingView } from '../../../src/protocol';
import { colormapLut } from '../../colormap';
import { h, percent, replaceChildren, Select, setOptions } from '../../dom';
import { isRunning, State, Store } from '../../store';
import { CORRECT_COLOR, WRONG_COLOR, classColor, s } from '../../svg';

type ColourBy = 'label' | 'prediction' | 'correct' | 'channel';

const WIDTH = 560;
const HEIGHT = 380;
const PAD = 14;
/** Pointer distance (in rendered pixels) within which a point counts as hovered. */
const HOVER_RADIUS = 12;

export class FeatureMapSection {
  readonly element: HTMLElement;
  private readonly method = h('vscode-single-select', { id: 'map-method', label: 'Projection' }) as Select;
  private readonly colourBy = h('vscode-single-select', { id: 'map-colour', label: 'Colour by' }) as Select;
  private readonly run = h('vscode-button', { id: 'map-run' }, 'Show map');
  private readonly channel = h('vscode-textfield', { id: 'map-channel', type: 'number', min: 0, placeholder: 'channel', 'aria-label': 'Channel to colour the map by', hidden: true }) as Select;
  private followed?: State['focusChannel'];
  private readonly caption = h('p', { class: 'muted small map-caption' });
  private readonly svg = s('svg', { class: 'feature-map', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', tabindex: 0 });
  private readonly tooltip = h('div', { class: 'map-tooltip', role: 'status', hidden: true });
  private readonly legend = h('div', { class: 'map-legend' });
  private readonly plot = h('div', { class: 'map-plot' });
  /** Point positions in viewBox units, per image. */
  private positions: [number, number][] = [];
  private highlighted?: number;
  private shown?: { dataset?: DatasetView; embedding?: EmbeddingView; channel?: ChannelValuesView };

  constructor(private readonly store: Store, private readonly openImage: (relPath: string) => void) {
    setOptions(this.method, [{ value: 'pca', label: 'PCA' }, { value: 'umap', label: 'UMAP' }], 'pca');
    setOptions(this.colourBy, [
      { value: 'label', label: 'folder label' }, { value: 'prediction', label: 'prediction' }, { value: 'correct', label: 'correct or not' }, { value: 'channel', label: 'a channel' },
    ], 'label');
    this.channel.addEventListener('change', () => this.requestChannel());
    this.run.addEventListener('click', () => this.request());
    this.method.addEventListener('change', () => {
      if (this.store.state.results.datasetEmbedding && this.store.state.results.datasetEmbedding.method !== this.method.value) this.request();
    });
    this.colourBy.addEventListener('change', () => {
      this.channel.hidden = this.colourBy.value !== 'channel';
      if (this.colourBy.value === 'channel') this.requestChannel();
      this.draw();
    });
    this.svg.addEventListener('mousemove', (e) => this.hover(this.nearest(e)));
    this.svg.addEventListener('mouseleave', () => this.hover(undefined));
    this.svg.addEventListener('click', (e) => {
      const i = this.nearest(e);
      if (i !== undefined) this.open(i);
    });
    this.svg.addEventListener('keydown', (e) => this.key(e));
    this.plot.append(this.svg, this.tooltip);
    this.element = h('section', { class: 'card feature-map-card', 'aria-label': 'Feature space map' },
      h('h3', {}, 'Feature space'),
      h('div', { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Projection'), this.method),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Colour by'), this.colourBy, this.channel),
        h('div', { class: 'run-row' }, this.run)),
      this.caption, this.plot, this.legend);
    store.subscribe((state) => this.render(state));
  }

  private render(state: State): void {
    this.run.toggleAttribute('disabled', !state.results.datasetFeatures || isRunning(state, 'datasetEmbedding'));
    // A channel picked elsewhere (a rule's) is the one offered here.
    if (state.focusChannel && state.focusChannel !== this.followed) {
      this.followed = state.focusChannel;
      this.channel.value = String(state.focusChannel.channel);
    }
    const r = state.results;
    if (this.shown?.dataset === r.datasetFeatures && this.shown?.embedding === r.datasetEmbedding && this.shown?.channel === r.datasetChannel) return;
    this.shown = { dataset: r.datasetFeatures, embedding: r.datasetEmbedding, channel: r.datasetChannel };
    this.draw();
  }

  private requestChannel(): void {
    const channel = Number(this.channel.value.trim());
    if (this.channel.value.trim() === '' || !Number.isInteger(channel) || channel < 0 || !this.store.state.results.datasetFeatures) return;
    this.store.request('datasetChannel', { channel, pooling: 'mean' }, `Channel ${channel} over the dataset…`);
  }

  private request(): void {
    const method = this.method.value === 'umap' ? 'umap' : 'pca';
    this.store.request('datasetEmbedding', { method }, `${method.toUpperCase()} map of the features…`);
  }

  private draw(): void {
    const d = this.shown?.dataset;
    const e = this.shown?.embedding;
    this.hover(undefined);
    this.plot.hidden = !d || !e;
    if (!d || !e) {
      this.positions = [];
      replaceChildren(this.svg);
      replaceChildren(this.legend);
      replaceChildren(this.caption, 'Press Show map to project the images\' penultimate features to 2-D.');
      return;
    }
    this.positions = layout(e);
    const by = this.colourBy.value as ColourBy;
    const wrong = (i: number) => d.images[i].label !== undefined && d.images[i].label !== d.images[i].prediction;
    // Misclassified points last, so they are drawn on top.
    const order = d.images.map((_, i) => i).sort((a, b) => Number(wrong(a)) - Number(wrong(b)) || a - b);
    const points = order.map((i) => {
      const [x, y] = this.positions[i];
      return s('circle', {
        class: wrong(i) ? 'point wrong' : 'point', cx: x.toFixed(1), cy: y.toFixed(1), r: wrong(i) ? 5 : 3.5,
        fill: by === 'channel' ? channelColour(this.shown?.channel, i) : pointColour(d, i, by), 'data-index': i,
      });
    });
    replaceChildren(this.svg, s('title', {}, `${e.method.toUpperCase()} map of ${d.images.length} images`), points);
    this.svg.setAttribute('aria-label', `${e.method.toUpperCase()} map of ${d.images.length} images, ${e.misclassified} misclassified; arrow keys move between images, Enter opens one`);
    const variance = e.explainedVarianceRatio ? ` · axes explain ${percent(e.explainedVarianceRatio[0])} and ${percent(e.explainedVarianceRatio[1])} of the variance` : '';
    replaceChildren(this.caption, `${e.method.toUpperCase()} of ${e.space}${variance} · ${e.misclassified} misclassified (ringed). Click a point to explain that image.`);
    this.renderLegend(d, by);
  }

  private renderLegend(d: DatasetView, by: ColourBy): void {
    const item = (colour: string, label: string) => h('span', { class: 'legend-item' }, swatch(colour), label);
    const c = this.shown?.channel;
    if (by === 'channel') {
      const text = c ? [item(viridis(0), `channel ${c.channel} lowest ${Math.min(...c.values).toPrecision(3)}`), item(viridis(1), `highest ${Math.max(...c.values).toPrecision(3)} (${c.pooling} over the image)`)] : [h('span', { class: 'legend-item' }, 'Type a channel number to colour the images by it.')];
      return replaceChildren(this.legend, text, h('span', { class: 'legend-item' }, h('span', { class: 'swatch ring' }), 'misclassified'));
    }
    const items = by === 'correct'
      ? [item(CORRECT_COLOR, 'correct'), item(WRONG_COLOR, 'misclassified'), item(classColor(undefined), 'no label')]
      : d.classNames.map((name, k) => item(classColor(k), name));
    replaceChildren(this.legend, items, h('span', { class: 'legend-item' }, h('span', { class: 'swatch ring' }), 'misclassified'));
  }

  /** The image under the pointer (nearest point within HOVER_RADIUS rendered pixels). */
  private nearest(e: MouseEvent): number | undefined {
    const box = this.svg.getBoundingClientRect();
    if (box.width === 0 || this.positions.length === 0) return undefined;
    const scale = box.width / WIDTH;
    const x = (e.clientX - box.left) / scale;
    const y = (e.clientY - box.top) / scale;
    let best: number | undefined;
    let bestDistance = (HOVER_RADIUS / scale) ** 2;
    this.positions.forEach(([px, py], i) => {
      const distance = (px - x) ** 2 + (py - y) ** 2;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = i;
      }
    });
    return best;
  }

  private hover(index: number | undefined): void {
    this.highlighted = index;
    this.svg.querySelector('.point.highlighted')?.classList.remove('highlighted');
    const d = this.shown?.dataset;
    if (index === undefined || !d) {
      this.tooltip.hidden = true;
      return;
    }
    const point = this.svg.querySelector(`.point[data-index="${index}"]`);
    point?.classList.add('highlighted');
    const im = d.images[index];
    const wrong = im.label !== undefined && im.label !== im.prediction;
    replaceChildren(this.tooltip,
      im.thumbnail ? h('img', { src: im.thumbnail, alt: '' }) : null,
      h('div', { class: 'tooltip-text' },
        h('strong', {}, im.relPath),
        h('span', {}, `label ${im.labelName ?? '–'}`),
        h('span', { class: wrong ? 'warning' : '' }, `predicted ${d.classNames[im.prediction]} (${percent(im.confidence, 0)})`)));
    const [x, y] = this.positions[index];
    const left = (x / WIDTH) * 100;
    const top = (y / HEIGHT) * 100;
    this.tooltip.style.left = `${Math.min(left, 70)}%`;
    this.tooltip.style.top = `${Math.min(top, 60)}%`;
    this.tooltip.dataset.index = String(index);
    this.tooltip.hidden = false;
  }

  private key(e: KeyboardEvent): void {
    const n = this.positions.length;
    if (n === 0) return;
    const current = this.highlighted ?? -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') this.hover((current + 1) % n);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') this.hover((current - 1 + n) % n);
    else if (e.key === 'Enter' && this.highlighted !== undefined) this.open(this.highlighted);
    else if (e.key === 'Escape') this.hover(undefined);
    else return;
    e.preventDefault();
  }

  private open(index: number): void {
    const im = this.shown?.dataset?.images[index];
    if (im) this.openImage(im.relPath);
  }
}

/** Coordinates scaled into the plot box, same scale on both axes so distances read true. */
function layout(e: EmbeddingView): [number, number][] {
  const [x0, x1] = [Math.min(...e.x), Math.max(...e.x)];
  const [y0, y1] = [Math.min(...e.y), Math.max(...e.y)];
  const scale = Math.min((WIDTH - 2 * PAD) / (x1 - x0 || 1), (HEIGHT - 2 * PAD) / (y1 - y0 || 1));
  const offsetX = (WIDTH - (x1 - x0) * scale) / 2;
  const offsetY = (HEIGHT - (y1 - y0) * scale) / 2;
  // y grows downwards on screen: flip so the map reads like a plot.
  return e.x.map((x, i) => [offsetX + (x - x0) * scale, HEIGHT - (offsetY + (e.y[i] - y0) * scale)]);
}

function pointColour(d: DatasetView, i: number, by: ColourBy): string {
  const im = d.images[i];
  if (by === 'prediction') return classColor(im.prediction);
  if (by === 'label') return classColor(im.label);
  return im.label === undefined ? classColor(undefined) : im.label === im.prediction ? CORRECT_COLOR : WRONG_COLOR;
}

function viridis(t: number): string {
  const lut = colormapLut('viridis');
  const k = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3;
  return `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
}

/** A point's colour by the channel's value over its image, lowest to highest on viridis; grey until the values arrive. */
function channelColour(c: ChannelValuesView | undefined, i: number): string {
  if (!c) return classColor(undefined);
  const low = Math.min(...c.values);
  const high = Math.max(...c.values);
  return viridis(high > low ? (c.values[i] - low) / (high - low) : 0);
}

function swatch(colour: string): HTMLElement {
  const el = h('span', { class: 'swatch' });
  el.style.background = colour;
  return el;
}
