// The Inside tab: what the layers see and detect. Receptive fields per layer (theoretical size and
// jump, the effective field measured with gradients on request), the first convolution's kernels,
// images that maximise chosen channels of a layer (feature visualisation), attention maps and
// rollout for models with self-attention, and the randomisation sanity check of an explanation
// method (sanity.ts).
import type { AttentionView, EffectiveFieldView, GalleryView, KernelsView, MapData, ReceptiveFieldsView } from '../../../src/protocol';
import { h, replaceChildren, Select, selectOption, setOptions } from '../../dom';
import { drawMap, drawOverlay, loadImage } from '../../overlay';
import { isRunning, State, Store } from '../../store';
import { datasetLayerOptions, layerLabel } from '../../pickers';
import { SanitySection } from './sanity';

export class InsideTab {
  readonly element: HTMLElement;

  constructor(store: Store) {
    this.element = h(
      'div',
      { class: 'inside' },
      h('div', { class: 'columns' }, new FieldsSection(store).element, new KernelsSection(store).element),
      new GallerySection(store).element,
      h('div', { class: 'columns' }, new AttentionSection(store).element, new SanitySection(store).element),
    );
  }
}

class FieldsSection {
  readonly element: HTMLElement;
  private readonly run = h('vscode-button', { id: 'fields-run' }, 'Show receptive fields');
  private readonly body = h('div', { class: 'fields-body' });
  private readonly effective = h('div', { class: 'effective-field', 'aria-live': 'polite', hidden: true });
  private shown?: { fields?: ReceptiveFieldsView; effective?: EffectiveFieldView; model: State['model']; colormap: State['colormap'] };

  constructor(store: Store) {
    this.run.addEventListener('click', () => store.request('receptiveFields', {}, 'Receptive fields…'));
    this.body.addEventListener('click', (e) => {
      const tensor = (e.target as HTMLElement).closest<HTMLElement>('button.effective')?.dataset.tensor;
      if (tensor) store.request('effectiveField', { layer: tensor }, `Effective receptive field of ${tensor}…`);
    });
    this.element = h(
      'section',
      { class: 'card fields', 'aria-label': 'Receptive fields' },
      h('h3', {}, 'Receptive fields'),
      h(
        'p',
        { class: 'muted small' },
        'Input pixels one position of a layer can see (size) and between neighbouring positions (jump), from the graph; "effective" measures where the gradient of the centre unit actually lands.',
      ),
      h('div', { class: 'run-row' }, this.run),
      this.effective,
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.run.toggleAttribute('disabled', !s.model || isRunning(s, 'receptiveFields'));
    for (const b of this.body.querySelectorAll('button.effective')) b.toggleAttribute('disabled', isRunning(s, 'effectiveField'));
    const last = this.shown;
    if (last && last.fields === s.results.receptiveFields && last.effective === s.results.effectiveField && last.model === s.model && last.colormap === s.colormap) return;
    this.shown = { fields: s.results.receptiveFields, effective: s.results.effectiveField, model: s.model, colormap: s.colormap };
    if (last?.fields !== s.results.receptiveFields || last?.model !== s.model) this.renderTable(s);
    this.renderEffective(s.results.effectiveField, s);
  }

  private renderTable(s: State): void {
    const f = s.results.receptiveFields;
    if (!f) return replaceChildren(this.body);
    const rows = f.fields.map((field) =>
      h(
        'tr',
        { 'data-tensor': field.tensor },
        h('td', { class: 'layer-name', title: field.tensor }, layerLabel(s.model, field.tensor)),
        h('td', { 'data-label': 'Op' }, h('span', { class: 'op' }, field.opType)),
        h('td', { class: 'num', 'data-label': 'Size' }, field.global ? 'whole input' : `${field.size[0]}×${field.size[1]}`),
        h('td', { class: 'num', 'data-label': 'Jump' }, `${field.jump[0]}×${field.jump[1]}`),
        h('td', {}, field.global ? null : h('button', { type: 'button', class: 'link effective', 'data-tensor': field.tensor }, 'effective')),
      ),
    );
    replaceChildren(
      this.body,
      h(
        'p',
        { class: 'small' },
        `Input ${f.inputSize[0]}×${f.inputSize[1]} · ${f.fields.length} tensors`,
        f.unresolved.length ? h('span', { class: 'warning' }, ` · ${f.unresolved.length} not described (${f.unresolved[0].opType}: ${f.unresolved[0].reason})`) : null,
      ),
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'fields-table reflow' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Layer'), h('th', {}, 'Op'), h('th', { class: 'num' }, 'Size'), h('th', { class: 'num' }, 'Jump'), h('th', {}, ''))),
          h('tbody', {}, rows),
        ),
      ),
    );
  }

  private renderEffective(e: EffectiveFieldView | undefined, s: State): void {
    this.effective.hidden = !e;
    if (!e) return replaceChildren(this.effective);
    const canvas = h('canvas', { class: 'effective-map', role: 'img', 'aria-label': `Effective receptive field of ${e.layer}` });
    drawOverlay(canvas, undefined, e.map, { colormap: s.colormap, opacity: 1, minSide: 192 });
    const [y0, x0, y1, x1] = e.box;
    const ctx = canvas.getContext('2d')!;
    const scale = canvas.width / e.map.width;
    ctx.strokeStyle = '#ffffff';
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(x0 * scale + 0.5, y0 * scale + 0.5, (x1 - x0) * scale - 1, (y1 - y0) * scale - 1);
    replaceChildren(
      this.effective,
      h('h4', {}, `Effective field of ${layerLabel(s.model, e.layer)}`),
      canvas,
      h(
        'p',
        { class: 'small effective-caption' },
        `${Math.round(e.massFraction * 100)}% of the centre unit's gradient lies on ${e.area} pixels (≈ ${e.side.toFixed(1)}×${e.side.toFixed(1)}), within a ${y1 - y0}×${x1 - x0} box`,
        e.theoretical ? `; the theoretical field is ${e.theoretical[0]}×${e.theoretical[1]}.` : '.',
      ),
    );
  }
}

class KernelsSection {
  readonly element: HTMLElement;
  private readonly run = h('vscode-button', { id: 'kernels-run' }, 'Show kernels');
  private readonly body = h('div', { class: 'kernels-body' });
  private shown?: KernelsView;

  constructor(store: Store) {
    this.run.addEventListener('click', () => store.request('kernels', {}, 'First-layer kernels…'));
    this.element = h(
      'section',
      { class: 'card kernels', 'aria-label': 'First-layer kernels' },
      h('h3', {}, 'First-layer kernels'),
      h('div', { class: 'run-row' }, this.run),
      this.body,
    );
    store.subscribe((s) => {
      this.run.toggleAttribute('disabled', !s.model || isRunning(s, 'kernels'));
      if (s.results.kernels === this.shown) return;
      this.shown = s.results.kernels;
      this.render(s.results.kernels);
    });
  }

  private render(k: KernelsView | undefined): void {
    if (!k) return replaceChildren(this.body);
    const img = h('img', { class: 'kernel-montage', src: k.montage, alt: `${k.count} kernels of ${k.node}` });
    img.style.width = `${Math.min(2 * k.montageSize[0], 360)}px`;
    replaceChildren(
      this.body,
      img,
      h(
        'p',
        { class: 'small' },
        `${k.count} kernels ${k.kernelSize[0]}×${k.kernelSize[1]} of ${k.node}, ${k.rgb ? 'shown in colour (RGB input)' : `first of ${k.inChannels} input channels in grey`}; each scaled to its own range.`,
      ),
    );
  }
}

class GallerySection {
  readonly element: HTMLElement;
  private readonly layer = h('vscode-single-select', { id: 'gallery-layer', label: 'Layer' }) as Select;
  private readonly count = h('vscode-single-select', { id: 'gallery-count', label: 'Channels' }) as Select;
  private readonly steps = h('vscode-single-select', { id: 'gallery-steps', label: 'Steps' }) as Select;
  // Any channels by number (a rule's channel, one the mark check flagged), else the first `count`.
  private readonly channels = h('vscode-textfield', {
    id: 'gallery-channels',
    placeholder: 'e.g. 48, 12',
    'aria-label': 'Channels to visualise (numbers, comma-separated)',
  }) as Select;
  private readonly channelsProblem = h('div', { class: 'field-error', role: 'alert', hidden: true });
  private readonly run = h('vscode-button', { id: 'gallery-run' }, 'Visualise');
  private readonly body = h('div', { class: 'gallery-body', 'aria-live': 'polite' });
  private shown?: { gallery?: GalleryView; model: State['model'] };
  private followed?: State['focusChannel'];

  constructor(private readonly store: Store) {
    setOptions(
      this.count,
      [4, 8, 16, 32].map((n) => ({ value: String(n), label: String(n) })),
      '8',
    );
    setOptions(
      this.steps,
      [32, 64, 128, 256, 512].map((n) => ({ value: String(n), label: String(n) })),
      '128',
    );
    this.run.addEventListener('click', () => {
      const layer = this.layer.value;
      const channels = this.chosenChannels();
      if (!layer || typeof channels === 'string') return;
      const count = channels?.length ?? Number(this.count.value);
      store.request(
        'featureGallery',
        { layer, count, steps: Number(this.steps.value), ...(channels ? { channels } : {}) },
        `Visualising ${count} channel${count === 1 ? '' : 's'}…`,
      );
    });
    this.channels.addEventListener('input', () => this.checkChannels());
    this.element = h(
      'section',
      { class: 'card gallery-card', 'aria-label': 'Feature visualisation' },
      h('h3', {}, 'Feature visualisation'),
      h(
        'p',
        { class: 'muted small' },
        'Images optimised to excite each channel (mean activation), from a random start with jitter, scaling and rotation each step; results are cached per model, layer and settings.',
      ),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Layer'), this.layer),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'First channels'), this.count),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Or channels'), this.channels, this.channelsProblem),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Steps'), this.steps),
        h('div', { class: 'run-row' }, this.run),
      ),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  /** The typed channel numbers (undefined when none are typed), or what is wrong with them. */
  private chosenChannels(): number[] | undefined | string {
    const text = this.channels.value.trim();
    if (!text) return undefined;
    const words = text.split(/[\s,]+/).filter(Boolean);
    const channels = words.map(Number);
    if (!channels.every((c) => Number.isInteger(c) && c >= 0)) return 'Type channel numbers (whole numbers from 0), separated by commas.';
    const layer = this.store.state.model?.layers.find((l) => l.tensor === this.layer.value);
    const available = layer?.shape?.[1];
    const outside = channels.filter((c) => available !== undefined && c >= available);
    if (outside.length) return `This layer has ${available} channels (0–${available! - 1}): ${outside.join(', ')} is not one.`;
    if (channels.length > 64) return 'At most 64 channels at a time.';
    return channels;
  }

  private checkChannels(): void {
    const channels = this.chosenChannels();
    this.channelsProblem.textContent = typeof channels === 'string' ? channels : '';
    this.channelsProblem.hidden = typeof channels !== 'string';
    this.run.toggleAttribute('disabled', typeof channels === 'string' || !this.store.state.model || isRunning(this.store.state, 'featureGallery'));
  }

  /** Puts a channel of a layer in the picker (a channel linked from another section). */
  private follow(focus: State['focusChannel']): void {
    if (!focus || focus === this.followed) return;
    this.followed = focus;
    if (this.store.state.model?.layers.some((l) => l.tensor === focus.layer)) selectOption(this.layer, focus.layer);
    this.channels.value = String(focus.channel);
    this.checkChannels();
  }

  private render(s: State): void {
    if (this.shown?.model !== s.model) {
      const { options, preferred } = datasetLayerOptions(s);
      setOptions(this.layer, options, preferred);
    }
    this.follow(s.focusChannel);
    this.checkChannels();
    if (this.shown?.gallery === s.results.featureGallery && this.shown?.model === s.model) return;
    this.shown = { gallery: s.results.featureGallery, model: s.model };
    const g = s.results.featureGallery;
    if (!g) return replaceChildren(this.body);
    // The settings follow what is shown.
    if (this.layer.value !== g.layer && s.model?.layers.some((l) => l.tensor === g.layer)) selectOption(this.layer, g.layer);
    for (const [select, value] of [
      [this.steps, String(g.steps)],
      [this.count, String(g.items.length)],
    ] as const) {
      if (select.value !== value && select.querySelector(`vscode-option[value="${value}"]`)) selectOption(select, value);
    }
    replaceChildren(
      this.body,
      h(
        'p',
        { class: 'small' },
        h('strong', {}, layerLabel(s.model, g.layer)),
        ` · ${g.items.length} channels · ${g.steps} steps${g.cached ? ` · ${g.cached} from the cache` : ''}`,
      ),
      h(
        'div',
        { class: 'gallery' },
        g.items.map((item) =>
          h(
            'figure',
            { class: 'gallery-item', 'data-channel': item.channel },
            h('img', { src: item.image, alt: `Image maximising channel ${item.channel}` }),
            h('figcaption', {}, `#${item.channel}`, h('span', { class: 'muted' }, ` · ${item.activation.toPrecision(3)}`)),
          ),
        ),
      ),
    );
  }
}

class AttentionSection {
  readonly element: HTMLElement;
  private readonly run = h('vscode-button', { id: 'attention-run' }, 'Show attention');
  private readonly body = h('div', { class: 'attention-body', 'aria-live': 'polite' });
  private shown?: { attention?: AttentionView; colormap: State['colormap']; opacity: number };

  constructor(private readonly store: Store) {
    this.run.addEventListener('click', () => {
      const imageId = store.state.selectedImageId;
      if (imageId) store.request('attention', { imageId }, 'Attention maps…');
    });
    this.element = h(
      'section',
      { class: 'card attention', 'aria-label': 'Attention' },
      h('h3', {}, 'Attention'),
      h(
        'p',
        { class: 'muted small' },
        'For models with self-attention: where the class token attends on the patch grid, per layer and head, and attention rollout through all layers, for the selected image.',
      ),
      h('div', { class: 'run-row' }, this.run),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.element.hidden = !mayHaveAttention(s.model);
    this.run.toggleAttribute('disabled', !s.model || !s.selectedImageId || isRunning(s, 'attention'));
    const last = this.shown;
    if (last && last.attention === s.results.attention && last.colormap === s.colormap && last.opacity === s.opacity) return;
    this.shown = { attention: s.results.attention, colormap: s.colormap, opacity: s.opacity };
    const a = s.results.attention;
    if (!a) return replaceChildren(this.body);
    if (a.layers.length === 0) return replaceChildren(this.body, h('p', { class: 'attention-none' }, a.message ?? 'The model has no self-attention.'));
    const image = s.images.find((i) => i.id === a.imageId);
    const figure = (map: MapData, label: string, cls: string) => {
      const canvas = h('canvas', { class: `attention-map ${cls}`, role: 'img', 'aria-label': label, title: label });
      void this.drawOn(canvas, image?.dataUrl, map);
      return h('figure', { class: 'attention-item' }, canvas, h('figcaption', {}, label));
    };
    replaceChildren(
      this.body,
      h(
        'p',
        { class: 'small' },
        `${a.grid!.rows}×${a.grid!.cols} patches${a.grid!.prefix ? ` after ${a.grid!.prefix} class token(s)` : ''} · ${a.query === 'cls' ? "the class token's attention" : 'mean attention over all queries'} · ${image?.name ?? ''}`,
      ),
      a.rollout ? h('div', { class: 'attention-row' }, h('h4', {}, 'Rollout through all layers'), figure(a.rollout, 'rollout', 'rollout')) : null,
      a.layers.map((l, i) =>
        h(
          'div',
          { class: 'attention-row', 'data-layer': l.tensor },
          h('h4', { title: l.tensor }, `Layer ${i + 1} · ${l.node}`),
          h(
            'div',
            { class: 'attention-grid' },
            figure(l.mean, 'mean of heads', 'mean'),
            l.headMaps.map((m, head) => figure(m, `head ${head}`, 'head')),
          ),
        ),
      ),
    );
  }

  private async drawOn(canvas: HTMLCanvasElement, dataUrl: string | undefined, map: MapData): Promise<void> {
    const image = dataUrl ? await loadImage(dataUrl).catch(() => undefined) : undefined;
    if (image) drawOverlay(canvas, image, map, { colormap: this.store.state.colormap, opacity: this.store.state.opacity, minSide: 96 });
    else drawMap(canvas, map, this.store.state.colormap);
  }
}

/**
 * Whether the graph may hold self-attention: a Softmax with a matrix product (queries × keys), or
 * a fused attention op. A plain CNN has neither, so the section is not offered for it.
 */
export function mayHaveAttention(model: State['model']): boolean {
  const ops = Object.keys(model?.opHistogram ?? {});
  return ops.some((op) => op.endsWith('Attention')) || (ops.includes('Softmax') && ops.some((op) => op === 'MatMul' || op === 'Einsum'));
}
