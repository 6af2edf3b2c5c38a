// The sanity check of an explanation method (Adebayo et al. 2018, cascading randomisation): the
// method's map on the selected image for the trained model, compared with its maps as the weighted
// layers are re-initialised one after another from the output side. A line chart shows the rank
// correlation of |map| (and SSIM, and the signed rank correlation) after each step, with the
// threshold; the verdict says whether the maps depend on what the model learned.
import type { SanityCheckView } from '../../../src/protocol';
import { h, replaceChildren, Select, setOptions } from '../../dom';
import { drawOverlay, loadImage } from '../../overlay';
import { isRunning, State, Store } from '../../store';
import { s } from '../../svg';
import { layerOptions, MethodChoice } from '../../pickers';

const WIDTH = 420;
const HEIGHT = 220;
const MARGIN = { left: 64, right: 12, top: 10, bottom: 56 };

// Drawn in this order: the main measure (rank correlation of |map|) last, on top.
const SERIES: { key: 'spearman' | 'ssim' | 'signedSpearman'; label: string; className: string }[] = [
  { key: 'signedSpearman', label: 'rank correlation (signed)', className: 'series-signed' },
  { key: 'ssim', label: 'SSIM', className: 'series-ssim' },
  { key: 'spearman', label: 'rank correlation of |map|', className: 'series-spearman' },
];

export class SanitySection {
  readonly element: HTMLElement;
  private readonly method = h('vscode-single-select', { id: 'sanity-method', label: 'Method' }) as Select;
  /** The settings' default until the user picks a method here; then their pick stands. */
  private readonly methodChoice = new MethodChoice(this.method);
  private readonly layer = h('vscode-single-select', { id: 'sanity-layer', label: 'Layer (methods at a layer)' }) as Select;
  private readonly run = h('vscode-button', { id: 'sanity-run' }, 'Run sanity check');
  private readonly body = h('div', { class: 'sanity-body', 'aria-live': 'polite' });
  private shown?: { sanity?: SanityCheckView; methods: State['methods']; model: State['model']; colormap: State['colormap'] };

  constructor(private readonly store: Store) {
    this.run.addEventListener('click', () => this.request());
    this.element = h(
      'section',
      { class: 'card sanity', 'aria-label': 'Sanity check' },
      h('h3', {}, 'Sanity check of an explanation'),
      h(
        'p',
        { class: 'muted small' },
        "Re-initialises the weighted layers one after another from the output side and compares the method's map on the selected image with the trained model's. Maps that stay the same do not explain the model.",
      ),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Method'), this.method),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Layer (methods at a layer)'), this.layer),
        h('div', { class: 'run-row' }, this.run),
      ),
      this.body,
    );
    store.subscribe((state) => this.render(state));
  }

  private render(state: State): void {
    this.run.toggleAttribute('disabled', !state.model || !state.selectedImageId || state.methods.length === 0 || isRunning(state, 'sanityCheck'));
    const last = this.shown;
    if (last?.methods !== state.methods || last?.model !== state.model) {
      this.methodChoice.offer(state.methods, state.methods.some((m) => m.name === state.preferredMethod) ? state.preferredMethod : 'gradcam');
      setOptions(this.layer, layerOptions(state));
    }
    if (last && last.sanity === state.results.sanityCheck && last.colormap === state.colormap) {
      this.shown = { ...last, methods: state.methods, model: state.model };
      return;
    }
    this.shown = { sanity: state.results.sanityCheck, methods: state.methods, model: state.model, colormap: state.colormap };
    this.renderResult(state);
  }

  private request(): void {
    const imageId = this.store.state.selectedImageId;
    const method = this.store.state.methods.find((m) => m.name === this.method.value);
    if (!imageId || !method) return;
    this.store.request('sanityCheck', { imageId, method: method.name, layer: method.usesLayer ? this.layer.value || 'auto' : 'auto' }, `Sanity check of ${method.title}…`);
  }

  private renderResult(state: State): void {
    const r = state.results.sanityCheck;
    if (!r) return replaceChildren(this.body);
    const title = state.methods.find((m) => m.name === r.method)?.title ?? r.method;
    const image = state.images.find((i) => i.id === r.imageId);
    const original = h('canvas', { class: 'sanity-map original', role: 'img', 'aria-label': `${title} on the trained model` });
    const randomized = h('canvas', { class: 'sanity-map randomized', role: 'img', 'aria-label': `${title} with every layer random` });
    void Promise.all([this.drawOn(original, image?.dataUrl, r.original), this.drawOn(randomized, image?.dataUrl, r.randomized)]);
    replaceChildren(
      this.body,
      h(
        'p',
        { class: r.passed ? 'verdict passed' : 'verdict failed' },
        h('span', { class: 'badge' }, r.passed ? 'passes' : 'fails'),
        ' ',
        h('strong', {}, title),
        `: ${r.verdict}`,
      ),
      chart(r),
      h(
        'div',
        { class: 'chart-legend small' },
        h('span', { class: 'muted' }, 'x: randomised from the output down to'),
        [...SERIES].reverse().map((line) => h('span', { class: 'legend-item' }, h('span', { class: `legend-line ${line.className}` }), line.label)),
        h('span', { class: 'legend-item' }, h('span', { class: 'legend-line threshold' }), `threshold ${r.threshold}`),
      ),
      h('div', { class: 'sanity-maps' }, h('figure', {}, original, h('figcaption', {}, 'trained model')), h('figure', {}, randomized, h('figcaption', {}, 'every layer random'))),
      h(
        'ul',
        { class: 'notes' },
        r.notes.map((n) => h('li', {}, n)),
      ),
    );
  }

  private async drawOn(canvas: HTMLCanvasElement, dataUrl: string | undefined, map: SanityCheckView['original']): Promise<void> {
    const image = dataUrl ? await loadImage(dataUrl).catch(() => undefined) : undefined;
    drawOverlay(canvas, image, map, { colormap: this.store.state.colormap, opacity: 0.6, minSide: 128 });
  }
}

/** Similarity after each randomisation step (x: layers randomised, output side first; y: −1 … 1). */
function chart(r: SanityCheckView): SVGSVGElement {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const n = r.steps.length;
  const x = (i: number) => MARGIN.left + (n > 1 ? (i * plotW) / (n - 1) : plotW / 2);
  const y = (v: number) => MARGIN.top + ((1 - Math.max(-1, Math.min(1, v))) / 2) * plotH;
  const grid = [-1, -0.5, 0, 0.5, 1].flatMap((v) => [
    s('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(v), y2: y(v) }),
    s('text', { class: 'axis', x: MARGIN.left - 4, y: y(v) + 3, 'text-anchor': 'end' }, String(v)),
  ]);
  const threshold = s('line', { class: 'threshold', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(r.threshold), y2: y(r.threshold) });
  const labels = r.steps.map((step, i) =>
    s(
      'text',
      {
        class: 'axis step-label',
        x: x(i),
        y: HEIGHT - MARGIN.bottom + 12,
        'text-anchor': 'end',
        transform: `rotate(-35 ${x(i)} ${HEIGHT - MARGIN.bottom + 12})`,
      },
      shortLayer(step.layer),
    ),
  );
  const series = SERIES.map((line) =>
    s(
      'g',
      { class: `series ${line.className}` },
      s('polyline', { points: r.steps.map((step, i) => `${x(i).toFixed(1)},${y(step[line.key]).toFixed(1)}`).join(' ') }),
      r.steps.map((step, i) =>
        s(
          'circle',
          { cx: x(i).toFixed(1), cy: y(step[line.key]).toFixed(1), r: 3, 'data-step': i },
          s('title', {}, `${line.label} after randomising down to ${step.layer}: ${step[line.key].toFixed(3)}`),
        ),
      ),
    ),
  );
  return s(
    'svg',
    {
      class: 'sanity-chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': `Similarity to the trained model's map after each randomisation step; threshold ${r.threshold}`,
    },
    grid,
    threshold,
    series,
    labels,
  );
}

/** A node name as its module path ('/block4/conv/Conv' → 'block4.conv'), to tell layers apart under the chart. */
function shortLayer(layer: string): string {
  const parts = layer.split('/').filter(Boolean);
  return parts.length > 1 ? parts.slice(0, -1).join('.') : layer;
}
