// The Activations tab: every channel of a layer's output as a thumbnail with its statistics
// (mean, max, % zeros), dead channels flagged, the channel's Grad-CAM weight for the top-1 class
// when gradients are available; click or Enter enlarges a channel. A 1-D model's layer [1, C, L]
// shows each channel as a line over its colours (signal/channel-strip.ts) instead of a picture.
import type { ActivationsView, ChannelView } from '../../src/protocol';
import { formatShape, h, initRoving, percent, replaceChildren, rovingFocus, Select, selectOption, setOptions } from '../dom';
import { drawMap } from '../overlay';
import { State, Store } from '../store';
import { camLayers, defaultSpatialLayer, layerLabel } from '../pickers';
import { followSelectedLayer } from '../selected-layer';
import { drawChannelStrip, isStrip } from './signal/channel-strip';

/** Layers whose channels the tab shows: a picture model's [N, C, H, W], a 1-D model's [N, C, L]. */
function channelLayers(model: State['model']): NonNullable<State['model']>['layers'] {
  const layers = model?.layers ?? [];
  if (model?.inputs[0]?.shape.length !== 3) return camLayers(layers);
  return layers.filter((l) => l.shape?.length === 3);
}

/** The layer the tab opens on: the spatial default, or a 1-D model's CAM layer (else its last 1-D layer). */
function preferredLayer(model: State['model']): string | undefined {
  if (model?.inputs[0]?.shape.length !== 3) return defaultSpatialLayer(model)?.name;
  const layers = channelLayers(model);
  return (layers.find((l) => l.name === model.defaultCamLayer || l.tensor === model.defaultCamLayer) ?? layers.at(-1))?.name;
}

const SORTS: { value: string; label: string; key: (c: ChannelView) => number }[] = [
  { value: 'index', label: 'channel index', key: (c) => c.index },
  { value: 'weight', label: 'Grad-CAM weight (high first)', key: (c) => -(c.gradcamWeight ?? -Infinity) },
  { value: 'mean', label: 'mean (high first)', key: (c) => -c.mean },
  { value: 'max', label: 'max (high first)', key: (c) => -c.max },
];

export class ActivationsTab {
  readonly element: HTMLElement;
  private readonly layer = h('vscode-single-select', { id: 'activations-layer', label: 'Layer' }) as Select;
  private readonly show = h('vscode-button', { id: 'activations-run' }, 'Show activations');
  private readonly sort = h('vscode-single-select', { id: 'activations-sort', label: 'Sort channels by' }) as Select;
  private readonly summary = h('p', { class: 'summary' });
  private readonly grid = h('div', { class: 'channel-grid', role: 'group', 'aria-label': 'Channels (arrow keys move, Enter enlarges)' });
  private readonly detail = h('section', { class: 'card channel-detail', 'aria-label': 'Channel detail', 'aria-live': 'polite', hidden: true });
  private shown?: { model: State['model']; activations?: ActivationsView; colormap: State['colormap'] };
  private enlarged?: number;
  /** A channel to enlarge once the activations asked for arrive. */
  private pendingChannel?: number;

  constructor(private readonly store: Store) {
    this.show.addEventListener('click', () => this.request());
    setOptions(
      this.sort,
      SORTS.map(({ value, label }) => ({ value, label })),
      'index',
    );
    this.sort.addEventListener('change', () => this.renderGrid());
    rovingFocus(this.grid, '.channel');
    this.element = h(
      'div',
      { class: 'activations' },
      h(
        'section',
        { class: 'card controls', 'aria-label': 'Activation settings' },
        h(
          'div',
          { class: 'compare-row' },
          h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Layer'), this.layer),
          h('div', { class: 'run-row' }, this.show),
          h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Sort by'), this.sort),
        ),
      ),
      this.summary,
      h('div', { class: 'activations-body' }, this.grid, this.detail),
    );
    store.subscribe((s) => this.render(s));
    followSelectedLayer(store, this.layer);
  }

  /** Shows a layer's activations for the selected image (from the layer list's "activations" link). */
  showLayer(layer: string): void {
    selectOption(this.layer, layer);
    this.request(layer);
  }

  /** Shows one channel of a layer (tensor or node name) enlarged: a channel linked from another section. */
  showChannel(layer: string, channel: number): void {
    const found = this.store.state.model?.layers.find((l) => l.tensor === layer || l.name === layer);
    if (!found) return;
    this.pendingChannel = channel;
    const shown = this.shown?.activations;
    if (shown && (shown.layer === found.tensor || shown.layer === found.name) && shown.imageId === this.store.state.selectedImageId) {
      this.enlarge(channel);
      this.pendingChannel = undefined;
      return;
    }
    this.showLayer(found.name);
  }

  private render(s: State): void {
    const last = this.shown;
    if (last?.model !== s.model) {
      const layers = channelLayers(s.model);
      const preferred = preferredLayer(s.model);
      setOptions(
        this.layer,
        layers.map((l) => ({ value: l.name, label: l.scope ?? l.name, description: `${l.opType} ${formatShape(l.shape)}` })),
        preferred,
      );
    }
    const busy = [...s.requests.values()].some((r) => r.kind === 'activations');
    this.show.toggleAttribute('disabled', busy || !s.selectedImageId || !s.model);
    const changed = last?.activations !== s.results.activations || last?.colormap !== s.colormap;
    this.shown = { model: s.model, activations: s.results.activations, colormap: s.colormap };
    if (changed) {
      if (last?.activations !== s.results.activations) {
        this.enlarged = this.pendingChannel;
        this.pendingChannel = undefined;
        // The layer select follows what is shown (the host may send another layer's activations).
        const shown = s.model?.layers.find((l) => l.name === s.results.activations?.layer || l.tensor === s.results.activations?.layer);
        if (shown && shown.name !== this.layer.value) selectOption(this.layer, shown.name);
      }
      this.renderGrid();
    }
  }

  private request(layer = this.layer.value): void {
    const imageId = this.store.state.selectedImageId;
    if (!imageId || !layer) return;
    this.store.request('activations', { imageId, layer, target: { kind: 'top' } }, `Activations of ${layer}…`);
  }

  private renderGrid(): void {
    const a = this.shown?.activations;
    if (!a) {
      replaceChildren(this.summary, 'Pick a layer and press Show activations to see every channel of its output for the selected image.');
      replaceChildren(this.grid);
      this.detail.hidden = true;
      return;
    }
    const dead = a.channels.filter((c) => c.dead).length;
    const image = this.store.state.images.find((i) => i.id === a.imageId)?.name ?? a.imageId;
    replaceChildren(
      this.summary,
      h('strong', { title: a.layer }, layerLabel(this.store.state.model, a.layer)),
      ` ${formatShape(a.shape)} · ${a.channels.length} channels · `,
      h('span', { class: dead ? 'warning' : '' }, `${dead} dead`),
      h('span', { class: 'muted' }, ` · ${image}`),
    );
    const sortKey = SORTS.find((s) => s.value === this.sort.value)?.key ?? SORTS[0].key;
    const channels = [...a.channels].sort((x, y) => sortKey(x) - sortKey(y) || x.index - y.index);
    const cells = channels.map((c) => this.cell(c));
    replaceChildren(this.grid, cells);
    initRoving(cells);
    this.renderDetail(a.channels.find((c) => c.index === this.enlarged));
  }

  private cell(c: ChannelView): HTMLElement {
    const canvas = h('canvas', { 'aria-hidden': 'true' });
    if (isStrip(c.map)) drawChannelStrip(canvas, c.map, this.store.state.colormap, 96, 40);
    else drawMap(canvas, c.map, this.store.state.colormap);
    const stats = channelStats(c);
    return h(
      'button',
      {
        class: c.dead ? 'channel dead' : 'channel',
        type: 'button',
        'data-channel': c.index,
        // The name starts with the visible text (#12, dead), as speech input users say it.
        'aria-label': `#${c.index}${c.dead ? ' dead' : ''}: channel ${c.index}, ${stats}`,
        title: `#${c.index}: ${stats}`,
        'aria-pressed': String(c.index === this.enlarged),
        onClick: () => this.enlarge(c.index),
      },
      canvas,
      h('span', { class: 'channel-label' }, `#${c.index}`),
      c.dead ? ' ' : null,
      c.dead ? h('span', { class: 'dead-badge' }, 'dead') : null,
    );
  }

  private enlarge(index: number): void {
    this.enlarged = index;
    for (const cell of this.grid.querySelectorAll('.channel')) cell.setAttribute('aria-pressed', String(cell.getAttribute('data-channel') === String(index)));
    this.renderDetail(this.shown?.activations?.channels.find((c) => c.index === index));
  }

  private renderDetail(c: ChannelView | undefined): void {
    this.detail.hidden = !c;
    if (!c) return replaceChildren(this.detail);
    const strip = isStrip(c.map);
    const canvas = h('canvas', { class: 'channel-large', role: 'img', 'aria-label': `Channel ${c.index} enlarged${strip ? `: its ${c.map.width} values as a line` : ''}` });
    if (strip) drawChannelStrip(canvas, c.map, this.store.state.colormap, 480, 160);
    else drawMap(canvas, c.map, this.store.state.colormap);
    const rows: [string, string][] = [
      ['Mean', c.mean.toPrecision(4)],
      ['Max', c.max.toPrecision(4)],
      ['Zeros', percent(c.zeroFraction)],
      ['Grad-CAM weight', c.gradcamWeight === undefined ? 'n/a (no gradients)' : c.gradcamWeight.toPrecision(4)],
    ];
    replaceChildren(
      this.detail,
      h('h3', {}, h('span', { class: 'channel-title' }, `Channel #${c.index}`), c.dead ? h('span', { class: 'dead-badge' }, 'dead') : null),
      canvas,
      h(
        'dl',
        { class: 'info' },
        rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
      c.dead ? h('p', { class: 'warning small' }, 'Dead: never positive, so the channel passes nothing on to the next layer.') : null,
    );
  }
}

function channelStats(c: ChannelView): string {
  const weight = c.gradcamWeight === undefined ? '' : `, Grad-CAM weight ${c.gradcamWeight.toPrecision(3)}`;
  return `mean ${c.mean.toPrecision(3)}, max ${c.max.toPrecision(3)}, ${percent(c.zeroFraction, 0)} zeros${weight}${c.dead ? ', dead' : ''}`;
}
