// The dataset in the network's feature space (penultimate features) as a 2-D scatter, by PCA or
// UMAP: one point per image drawn on a canvas (scatter.ts), so 100,000 images draw in one frame.
// The points arrive as typed arrays (datasetMap). Colour by folder label, prediction, error or a
// channel's pooled activation; errors are drawn larger and ringed, on top. Wheel zooms, drag pans,
// Shift-drag (or Lasso) chooses points for the slice view; hovering shows the image's name and
// prediction, clicking opens it in the Explain tab.
import type { ChannelValuesView, DatasetMapView, DatasetView } from '../../../src/protocol';
import { NO_LABEL } from '../../../src/protocol';
import { colormapLut } from '../../colormap';
import { h, percent, replaceChildren, Select, setOptions } from '../../dom';
import { isRunning, State, Store } from '../../store';
import { CORRECT_COLOR, WRONG_COLOR, classColor } from '../../svg';
import { Scatter } from './scatter';
import { DecodedMap, adoptDatasetStyles, decodeMap, decodeUint8 } from './typed-arrays';

type ColourBy = 'label' | 'prediction' | 'error' | 'channel';

const WIDTH = 560;
const HEIGHT = 400;
/** Steps of the channel colour ramp (viridis). */
const RAMP_STEPS = 32;
const UNLABELLED_COLOR = classColor(undefined);

export class FeatureMapSection {
  readonly element: HTMLElement;
  readonly scatter: Scatter;
  private readonly method = h('vscode-single-select', { id: 'map-method', label: 'Projection' }) as Select;
  private readonly colourBy = h('vscode-single-select', { id: 'map-colour', label: 'Colour by' }) as Select;
  private readonly channel = h('input', { id: 'map-channel', type: 'number', min: 0, value: 0, class: 'channel-input', 'aria-label': 'Channel' });
  private readonly run = h('vscode-button', { id: 'map-run' }, 'Show map');
  private readonly lasso = h('vscode-button', { id: 'map-lasso', secondary: true, title: 'Draw around points to choose them (or Shift-drag)' }, 'Lasso');
  private readonly reset = h('vscode-button', { id: 'map-reset', secondary: true }, 'Reset zoom');
  private readonly caption = h('p', { class: 'muted small map-caption' });
  private readonly tooltip = h('div', { class: 'map-tooltip', role: 'status', hidden: true });
  private readonly legend = h('div', { class: 'map-legend' });
  private readonly chosen = h('p', { class: 'small map-chosen', hidden: true });
  private readonly plot = h('div', { class: 'map-plot' });
  private map?: DecodedMap;
  private shown?: { dataset?: DatasetView; map?: DatasetMapView; values?: ChannelValuesView };

  constructor(
    private readonly store: Store,
    private readonly openImage: (relPath: string) => void,
    private readonly showSlice: (images: number[], title: string) => void,
  ) {
    adoptDatasetStyles();
    this.scatter = new Scatter(WIDTH, HEIGHT, {
      hover: (i, at) => this.hover(i, at),
      open: (i) => this.open(i),
      select: (indices) => this.chose(indices),
    });
    this.scatter.canvas.id = 'feature-map';
    setOptions(
      this.method,
      [
        { value: 'pca', label: 'PCA' },
        { value: 'umap', label: 'UMAP' },
      ],
      'pca',
    );
    setOptions(
      this.colourBy,
      [
        { value: 'label', label: 'folder label' },
        { value: 'prediction', label: 'prediction' },
        { value: 'error', label: 'correct or not' },
        { value: 'channel', label: 'channel activation' },
      ],
      'label',
    );
    this.run.addEventListener('click', () => this.request());
    this.method.addEventListener('change', () => {
      if (this.store.state.results.datasetMap && this.store.state.results.datasetMap.method !== this.method.value) this.request();
    });
    this.colourBy.addEventListener('change', () => this.recolour());
    this.channel.addEventListener('change', () => this.recolour());
    this.lasso.addEventListener('click', () => {
      this.scatter.lasso = !this.scatter.lasso;
      this.lasso.toggleAttribute('secondary', !this.scatter.lasso);
    });
    this.reset.addEventListener('click', () => this.scatter.resetView());
    this.scatter.canvas.addEventListener('keydown', (e) => this.key(e));
    this.plot.append(this.scatter.canvas, this.tooltip);
    this.element = h(
      'section',
      { class: 'card feature-map-card', 'aria-label': 'Feature space map' },
      h('h3', {}, 'Feature space'),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Projection'), this.method),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Colour by'), this.colourBy),
        h('div', { class: 'field channel-field' }, h('span', { class: 'field-label' }, 'Channel'), this.channel),
        h('div', { class: 'run-row' }, this.run, this.lasso, this.reset),
      ),
      this.caption,
      this.plot,
      this.legend,
      this.chosen,
    );
    store.subscribe((state) => this.render(state));
  }

  /** Colours the map by a channel's activation (from the shortcut heatmaps), asking for the map first when there is none. */
  colourByChannel(channel: number): void {
    this.channel.value = String(channel);
    this.colourBy.value = 'channel';
    if (this.map) this.recolour();
    else if (!isRunning(this.store.state, 'datasetMap')) this.request();
    this.element.scrollIntoView?.({ block: 'nearest' });
  }

  /** Rings the given images (an error cluster, a slice). */
  choose(indices: number[]): void {
    this.scatter.setChosen(indices);
  }

  private render(state: State): void {
    this.run.toggleAttribute('disabled', !state.results.datasetFeatures || isRunning(state, 'datasetMap'));
    const { datasetFeatures: dataset, datasetMap: map, datasetChannelValues: values } = state.results;
    if (this.shown?.dataset === dataset && this.shown?.map === map && this.shown?.values === values) return;
    const mapChanged = this.shown?.map !== map;
    this.shown = { dataset, map, values };
    if (mapChanged) this.load();
    else this.recolour();
  }

  private request(): void {
    const method = this.method.value === 'umap' ? 'umap' : 'pca';
    this.store.request('datasetMap', { method }, `${method.toUpperCase()} map of the features…`);
  }

  private load(): void {
    const view = this.shown?.map;
    this.hover(undefined, { x: 0, y: 0 });
    this.chosen.hidden = true;
    this.plot.hidden = !view || !this.shown?.dataset;
    if (!view || !this.shown?.dataset) {
      this.map = undefined;
      replaceChildren(this.legend);
      replaceChildren(this.caption, "Press Show map to project the images' penultimate features to 2-D.");
      return;
    }
    this.map = decodeMap(view);
    this.scatter.setPoints(this.map.xy);
    const variance = view.explainedVarianceRatio ? ` · axes explain ${percent(view.explainedVarianceRatio[0])} and ${percent(view.explainedVarianceRatio[1])} of the variance` : '';
    replaceChildren(
      this.caption,
      `${view.method.toUpperCase()} of ${view.space}${variance} · ${view.count.toLocaleString('en-US')} images, ${view.misclassified} misclassified (ringed). `,
      view.note ? h('span', { class: 'warning' }, `${view.note} `) : null,
      'Wheel zooms, drag pans, Shift-drag chooses; click a point to explain that image.',
    );
    this.scatter.canvas.setAttribute(
      'aria-label',
      `${view.method.toUpperCase()} map of ${view.count} images, ${view.misclassified} misclassified; + and − zoom, arrow keys move between images, Enter explains one`,
    );
    this.recolour();
  }

  private recolour(): void {
    const map = this.map;
    const d = this.shown?.dataset;
    this.channel.closest('.channel-field')?.toggleAttribute('hidden', this.colourBy.value !== 'channel');
    if (!map || !d) return;
    const by = this.colourBy.value as ColourBy;
    const n = map.count;
    const emphasis = Uint8Array.from({ length: n }, (_, i) => Number(map.labels[i] !== NO_LABEL && map.labels[i] !== map.predictions[i]));
    const k = d.classNames.length;
    let colour: Uint8Array;
    let palette: string[];
    if (by === 'channel') {
      const channel = Number(this.channel.value);
      const values = this.shown?.values;
      if (!values || values.channel !== channel) {
        const limit = d.layerShape[0];
        const valid = Number.isInteger(channel) && channel >= 0 && channel < limit;
        if (valid && !isRunning(this.store.state, 'datasetChannelValues'))
          this.store.request('datasetChannelValues', { channel, pooling: 'max' }, `Channel ${channel} across the dataset…`);
        return;
      }
      const v = decodeUint8(values.values);
      colour = Uint8Array.from(v, (x) => Math.min(RAMP_STEPS - 1, Math.floor((x * RAMP_STEPS) / 256)));
      palette = rampPalette();
      this.renderLegend(by, d, values);
    } else if (by === 'error') {
      colour = Uint8Array.from({ length: n }, (_, i) => (map.labels[i] === NO_LABEL ? 2 : emphasis[i] ? 1 : 0));
      palette = [CORRECT_COLOR, WRONG_COLOR, UNLABELLED_COLOR];
      this.renderLegend(by, d);
    } else {
      const source = by === 'label' ? map.labels : map.predictions;
      colour = Uint8Array.from(source, (c) => (c === NO_LABEL || c >= k ? k : c));
      palette = [...d.classNames.map((_, c) => classColor(c)), UNLABELLED_COLOR];
      this.renderLegend(by, d);
    }
    this.scatter.setStyle({ colour, palette, emphasis });
  }

  private renderLegend(by: ColourBy, d: DatasetView, values?: ChannelValuesView): void {
    const item = (colour: string, label: string) => h('span', { class: 'legend-item' }, swatch(colour), label);
    const items =
      by === 'error'
        ? [item(CORRECT_COLOR, 'correct'), item(WRONG_COLOR, 'misclassified'), item(UNLABELLED_COLOR, 'no label')]
        : by === 'channel'
          ? [item(rampPalette()[0], `channel ${values!.channel} ${values!.pooling} 0`), item(rampPalette()[RAMP_STEPS - 1], values!.max.toPrecision(3))]
          : d.classNames.map((name, k) => item(classColor(k), name));
    replaceChildren(this.legend, items, h('span', { class: 'legend-item' }, h('span', { class: 'swatch ring' }), 'misclassified'));
  }

  private hover(index: number | undefined, at: { x: number; y: number }): void {
    const d = this.shown?.dataset;
    const map = this.map;
    if (index === undefined || !d || !map) {
      this.tooltip.hidden = true;
      return;
    }
    const im = d.images[index];
    const label = map.labels[index];
    const wrong = label !== NO_LABEL && label !== map.predictions[index];
    replaceChildren(
      this.tooltip,
      im?.thumbnail ? h('img', { src: im.thumbnail, alt: '' }) : null,
      h(
        'div',
        { class: 'tooltip-text' },
        h('strong', {}, im?.relPath ?? `image ${index}`),
        h('span', {}, `label ${label === NO_LABEL ? '–' : d.classNames[label]}`),
        h('span', { class: wrong ? 'warning' : '' }, `predicted ${d.classNames[map.predictions[index]]} (${percent(map.confidence[index] / 255, 0)})`),
      ),
    );
    this.tooltip.style.left = `${Math.min((at.x / WIDTH) * 100, 70)}%`;
    this.tooltip.style.top = `${Math.min((at.y / HEIGHT) * 100, 60)}%`;
    this.tooltip.dataset.index = String(index);
    this.tooltip.hidden = false;
  }

  private chose(indices: number[]): void {
    this.chosen.hidden = false;
    const show = h(
      'vscode-button',
      { id: 'map-show-chosen', secondary: true, onClick: () => this.showSlice(indices, `${indices.length} images chosen on the map`) },
      'Show in slice view',
    );
    replaceChildren(
      this.chosen,
      `${indices.length.toLocaleString('en-US')} images chosen (${indices.filter((i) => this.map && this.map.labels[i] !== NO_LABEL && this.map.labels[i] !== this.map.predictions[i]).length} misclassified). `,
      indices.length ? show : null,
    );
  }

  /** Keyboard: + / − zoom, 0 resets, arrows step through the images, Enter explains the hovered one. */
  private key(e: KeyboardEvent): void {
    const n = this.scatter.count;
    if (n === 0) return;
    const hovered = Number(this.tooltip.hidden ? -1 : this.tooltip.dataset.index);
    const centre = { x: WIDTH / 2, y: HEIGHT / 2 };
    const step = (i: number) => this.scatter.setHover(i, this.scatter.positionOf(i));
    if (e.key === '+' || e.key === '=') this.scatter.zoomAt(1.5, centre);
    else if (e.key === '-') this.scatter.zoomAt(1 / 1.5, centre);
    else if (e.key === '0') this.scatter.resetView();
    else if (e.key === 'ArrowRight' || e.key === 'ArrowDown') step((hovered + 1) % n);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') step((hovered - 1 + n) % n);
    else if (e.key === 'Enter' && hovered >= 0) this.open(hovered);
    else if (e.key === 'Escape') this.scatter.setHover(undefined, centre);
    else return;
    e.preventDefault();
  }

  private open(index: number): void {
    const im = this.shown?.dataset?.images[index];
    if (im) this.openImage(im.relPath);
  }
}

let ramp: string[] | undefined;
function rampPalette(): string[] {
  if (!ramp) {
    // The LUT holds 256 RGB triples.
    const lut = colormapLut('viridis');
    ramp = Array.from({ length: RAMP_STEPS }, (_, k) => {
      const j = Math.round((k / (RAMP_STEPS - 1)) * 255) * 3;
      return `#${[lut[j], lut[j + 1], lut[j + 2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    });
  }
  return ramp;
}

function swatch(colour: string): HTMLElement {
  const el = h('span', { class: 'swatch' });
  el.style.background = colour;
  return el;
}
