// The Compare tab: several methods on the same image and target, side by side, each with its
// faithfulness scores (deletion AUC: lower is better; insertion AUC: higher is better; pointing
// game when the image has a box), so a user sees which explanation the model actually follows.
import type { ExplanationView, Prediction } from '../../src/protocol';
import { h, replaceChildren, Select, setOptions } from '../dom';
import { OverlayFigure } from '../figure';
import { State, Store } from '../store';
import { layerLabel, layerOptions } from '../pickers';
import { followSelectedLayer } from '../selected-layer';
import { exportButtons } from '../explanation-exports';
import { TargetChooser } from './target';

const DEFAULT_TICKED = 3;

type Checkbox = HTMLElement & { checked: boolean; value: string };
export class CompareTab {
  readonly element: HTMLElement;
  private readonly checks = h('div', { class: 'method-checks', role: 'group', 'aria-label': 'Methods to compare' });
  private readonly layer = h('vscode-single-select', { id: 'compare-layer', label: 'Layer for methods at a layer' }) as Select;
  private readonly target = new TargetChooser('compare-');
  private readonly run = h('vscode-button', { id: 'compare-run' }, 'Compare');
  private readonly results = h('div', { class: 'compare-grid', 'aria-live': 'polite' });
  private readonly figures = new Map<string, OverlayFigure>();
  private shown?: { methods: State['methods']; model: State['model']; predictions?: Prediction[]; compare?: State['compare']; running: boolean };

  constructor(private readonly store: Store) {
    this.run.addEventListener('click', () => this.compare());
    const form = h(
      'section',
      { class: 'card controls compare-controls', 'aria-label': 'Comparison settings' },
      h('h3', {}, 'Compare methods'),
      this.checks,
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Layer (methods at a layer)'), this.layer),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Target'), this.target.element),
        h('div', { class: 'run-row' }, this.run),
      ),
    );
    this.element = h('div', { class: 'compare' }, form, this.results);
    store.subscribe((s) => this.render(s));
    followSelectedLayer(store, this.layer);
  }

  private render(s: State): void {
    const predictions = s.selectedImageId ? s.predictions.get(s.selectedImageId) : undefined;
    const last = this.shown;
    if (!last || last.methods !== s.methods || last.model !== s.model) {
      // The first few methods (the host lists the quick ones first) are ticked to start with.
      replaceChildren(
        this.checks,
        s.methods.map((m, i) => h('vscode-checkbox', { value: m.name, label: m.title, checked: i < DEFAULT_TICKED, 'data-kind': m.kind })),
      );
      setOptions(this.layer, layerOptions(s));
      const classes = s.model?.outputs[0]?.shape.at(-1);
      this.target.classCount = typeof classes === 'number' ? classes : undefined;
    }
    if (predictions && predictions !== last?.predictions) this.target.setPredictions(predictions);
    const busy = [...s.requests.values()].some((r) => r.kind === 'compare');
    this.run.toggleAttribute('disabled', busy || !s.selectedImageId || s.methods.length === 0);
    const running = !!s.compare && s.requests.has(s.compare.requestId);
    if (!last || last.compare !== s.compare || last.methods !== s.methods || last.running !== running) this.renderResults(s, running);
    else this.redrawFigures(s);
    this.shown = { methods: s.methods, model: s.model, predictions, compare: s.compare, running };
  }

  private compare(): void {
    const s = this.store.state;
    const methods = [...this.checks.querySelectorAll<Checkbox>('vscode-checkbox')].filter((c) => c.checked).map((c) => c.value);
    const target = this.target.value();
    if (!s.selectedImageId) return;
    if (methods.length === 0) return this.store.update({ error: { message: 'Tick at least one method to compare.' } });
    if (typeof target === 'string') return this.store.update({ error: { message: target } });
    const imageId = s.selectedImageId;
    const requestId = this.store.request('compare', { imageId, methods, layer: this.layer.value || 'auto', target }, `Comparing ${methods.length} methods…`);
    this.store.update({ compare: { requestId, imageId, methods, explanationIds: [] } });
  }

  private renderResults(s: State, running: boolean): void {
    this.figures.clear();
    const run = s.compare;
    if (!run)
      return replaceChildren(
        this.results,
        h(
          'p',
          { class: 'muted' },
          'Pick methods and press Compare: each map is scored by how fast the prediction falls when its most important pixels are deleted, and rises when they are inserted.',
        ),
      );
    const explanations = run.explanationIds.map((id) => s.explanations.get(id)).filter((e): e is ExplanationView => !!e);
    const best = bestScores(explanations);
    const pending = run.methods.filter((m) => !explanations.some((e) => e.method === m));
    replaceChildren(
      this.results,
      explanations.map((e) => this.card(e, s, best)),
      pending.map((m) =>
        h('div', { class: 'card compare-card pending' }, h('h4', {}, this.title(m)), running ? h('vscode-progress-ring') : h('p', { class: 'muted' }, 'No result.')),
      ),
    );
    this.redrawFigures(s);
  }

  private card(e: ExplanationView, s: State, best: { deletion?: number; insertion?: number }): HTMLElement {
    const figure = new OverlayFigure(`${this.title(e.method)} overlay`, 192);
    this.figures.set(e.id, figure);
    const f = e.faithfulness;
    const scores = f
      ? h(
          'dl',
          { class: 'scores' },
          h('dt', {}, 'Deletion AUC ↓'),
          h('dd', { class: f.deletionAuc === best.deletion ? 'best' : '' }, f.deletionAuc.toFixed(3)),
          h('dt', {}, 'Insertion AUC ↑'),
          h('dd', { class: f.insertionAuc === best.insertion ? 'best' : '' }, f.insertionAuc.toFixed(3)),
          f.pointingGame === undefined ? null : [h('dt', {}, 'Pointing game'), h('dd', {}, f.pointingGame ? 'hit' : 'miss')],
        )
      : h('p', { class: 'muted small' }, 'No faithfulness scores.');
    return h(
      'div',
      { class: 'card compare-card', 'data-method': e.method },
      h('h4', {}, this.title(e.method)),
      h('div', { class: 'figure-wrap' }, figure.canvas),
      h('div', { class: 'muted small' }, `${e.targetLabel}${e.layer ? ` · ${layerLabel(s.model, e.layer)}` : ''} · ${e.seconds.toFixed(2)} s`),
      scores,
      h('div', { class: 'exports' }, exportButtons(e.id, this.store)),
    );
  }

  private redrawFigures(s: State): void {
    const image = s.images.find((i) => i.id === s.compare?.imageId);
    for (const [id, figure] of this.figures) void figure.show(image, s.explanations.get(id)?.map, s, id);
  }

  private title(method: string): string {
    return this.store.state.methods.find((m) => m.name === method)?.title ?? method;
  }
}

function bestScores(explanations: ExplanationView[]): { deletion?: number; insertion?: number } {
  const scored = explanations.map((e) => e.faithfulness).filter((f) => !!f);
  if (scored.length < 2) return {};
  return { deletion: Math.min(...scored.map((f) => f.deletionAuc)), insertion: Math.max(...scored.map((f) => f.insertionAuc)) };
}
