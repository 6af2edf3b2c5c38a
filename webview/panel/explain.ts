// The Explain tab: predictions, the explanation controls (method, its options, the layer for
// methods that work at one, class target, Run) and the result as an overlay with its notes and exports.
import type { ExplanationView, MethodView, Prediction, TargetSpec } from '../../src/protocol';
import { h, replaceChildren, Select, selectOption, setOptions } from '../dom';
import { exportButtons } from '../explanation-exports';
import { DisplayControls, OverlayFigure } from '../figure';
import { MethodOptions } from '../method-options';
import { layerLabel, layerOptions, MethodChoice } from '../pickers';
import { followSelectedLayer } from '../selected-layer';
import { State, Store } from '../store';
import { PredictionList } from './predictions';
import { NdFigure } from './signal/nd-figure';
import { runFirstExplanation } from './first-run';
import { TargetChooser } from './target';
import { hasStructuredOutputs, TaskView } from './tasks';

export class ExplainTab {
  readonly element: HTMLElement;
  // Choosing a prediction asks for its explanation at once.
  private readonly predictions = new PredictionList((index) => {
    this.target.chooseClass(index);
    this.explain();
  });
  private readonly method = h('vscode-single-select', { id: 'method', label: 'Method' }) as Select;
  /** The settings' default method until the user, a run or a result chose one; then that choice stands. */
  private readonly methodChoice = new MethodChoice(this.method);
  private readonly layer = h('vscode-single-select', { id: 'layer', label: 'Layer' }) as Select;
  private readonly layerField = field('Layer', this.layer);
  private readonly formula = h('p', { class: 'formula muted small' });
  private readonly options = new MethodOptions();
  private readonly target = new TargetChooser();
  private readonly tasks: TaskView;
  private readonly run = h('vscode-button', { id: 'run' }, 'Run');
  private readonly figure = new OverlayFigure('Explanation overlay');
  /** A signal's or a video's figure, in place of the overlay for those inputs. */
  private readonly nd = new NdFigure();
  private readonly display: DisplayControls;
  private readonly caption = h('div', { class: 'caption' });
  private readonly result = h('div', { class: 'result-body' });
  private readonly notes = h('ul', { class: 'notes' });
  private readonly exports = h('div', { class: 'exports' });
  private readonly empty = h('div', { class: 'empty-state' });
  private readonly predictionsCard: HTMLElement;
  private targetPredictions?: Prediction[];
  /** The image and classes the target's choices were set for: the same again (a reopened model) keeps the user's target. */
  private targetFor?: string;
  private followed?: ExplanationView;
  private last?: { methods: MethodView[]; model: State['model']; preferred?: string };

  constructor(private readonly store: Store) {
    // Segmentation and detection models: choosing a class region, a drawn region or a box explains it at once.
    this.tasks = new TaskView(store, (target, label) => {
      this.target.chooseTask(target, label);
      this.explain(target);
    });
    this.display = new DisplayControls(store, { idPrefix: '', colormap: true });
    this.method.addEventListener('change', () => this.syncMethod());
    this.run.addEventListener('click', () => this.explain());
    const controls = h(
      'section',
      { class: 'card controls', 'aria-label': 'Explanation settings' },
      h('h3', {}, 'Explain'),
      field('Method', this.method),
      this.formula,
      this.options.element,
      this.layerField,
      field('Target', this.target.element),
      h('div', { class: 'run-row' }, this.run),
    );
    const predictions = (this.predictionsCard = h('section', { class: 'card', 'aria-label': 'Predictions' }, h('h3', {}, 'Predictions'), this.predictions.element));
    this.result.append(
      this.caption,
      h('div', { class: 'figure-wrap' }, h('div', { class: 'figure-stack' }, this.figure.canvas, this.tasks.outline)),
      this.nd.element,
      this.display.element,
      this.exports,
      this.notes,
    );
    const result = h('section', { class: 'card result', 'aria-label': 'Explanation' }, this.empty, this.result);
    this.element = h('div', { class: 'explain' }, h('div', { class: 'explain-side' }, predictions, this.tasks.element, controls), result);
    store.subscribe((s) => this.render(s));
    followSelectedLayer(store, this.layer);
    // The first screen is an answer: the default method on the chosen image, once.
    runFirstExplanation(store, (method) => {
      this.methodChoice.choose(method);
      this.syncMethod();
      return this.explain(undefined, { background: true });
    });
  }

  private render(s: State): void {
    this.renderChoices(s);
    const imageId = s.selectedImageId;
    const predictions = imageId ? s.predictions.get(imageId) : undefined;
    // A segmentation or detection model's classes and boxes are the task card's (tasks.ts); its
    // predictions (classes by pixel share or best box) still feed the target's class picker.
    this.predictionsCard.hidden = hasStructuredOutputs(s.model);
    this.predictions.render(predictions, !!imageId);
    if (predictions && predictions !== this.targetPredictions) {
      const image = this.store.selectedImage();
      const key = `${image?.folder ?? ''}/${image?.name ?? imageId}:${predictions.map((p) => p.index).join(',')}`;
      if (key !== this.targetFor) this.target.setPredictions(predictions);
      this.targetFor = key;
    }
    this.targetPredictions = predictions;
    const busy = [...s.requests.values()].some((r) => r.kind === 'explain');
    this.run.toggleAttribute('disabled', busy || !imageId || s.methods.length === 0);
    this.renderResult(s);
    this.follow(this.store.shownExplanation());
  }

  /** The controls follow the result shown: its method, its layer and its target. */
  private follow(e: ExplanationView | undefined): void {
    // A result that came before the model (any order is possible) is followed once the model is there.
    if (!e || e === this.followed || !this.store.state.model) return;
    this.followed = e;
    // The result's method counts as chosen even when the select already showed it: late settings leave it.
    if (this.store.state.methods.some((m) => m.name === e.method)) {
      const changed = this.method.value !== e.method;
      this.methodChoice.choose(e.method);
      if (changed) this.syncMethod();
    }
    const model = this.store.state.model;
    const layer = e.layer ? model?.layers.find((l) => l.name === e.layer || l.tensor === e.layer) : undefined;
    const autoLayer = model?.layers.find((l) => l.name === model.defaultCamLayer || l.tensor === model.defaultCamLayer);
    if (layer && !(this.layer.value === 'auto' && layer === autoLayer) && this.layer.value !== layer.name) selectOption(this.layer, layer.name);
    const predictions = this.store.state.predictions.get(e.imageId);
    this.target.follow(e.target, predictions?.[0]?.index);
  }

  private renderChoices(s: State): void {
    const l = this.last;
    if (l && l.methods === s.methods && l.model === s.model && l.preferred === s.preferredMethod) return;
    this.last = { methods: s.methods, model: s.model, preferred: s.preferredMethod };
    this.methodChoice.offer(s.methods, s.preferredMethod);
    setOptions(this.layer, layerOptions(s));
    const outputs = s.model?.outputs[0]?.shape;
    // A segmentation's classes are its output's axis 1; a detector's are checked by the worker.
    const classes = hasStructuredOutputs(s.model) ? (outputs?.length === 4 ? outputs[1] : undefined) : outputs?.at(-1);
    this.target.classCount = typeof classes === 'number' ? classes : undefined;
    this.syncMethod();
  }

  private selectedMethod(): MethodView | undefined {
    return this.store.state.methods.find((m) => m.name === this.method.value) ?? this.store.state.methods[0];
  }

  private syncMethod(): void {
    const m = this.selectedMethod();
    // The method's descriptor says whether it works at a layer (Guided Grad-CAM does, without being a CAM).
    this.layerField.hidden = !m?.usesLayer;
    this.options.show(m);
    const problem = m?.needsGradients ? this.store.state.model?.gradientProblem : undefined;
    replaceChildren(this.formula, m?.formula ?? '', problem ? h('span', { class: 'warning' }, ` ${problem}`) : null);
  }

  /** Asks for the explanation the controls describe; returns the request's id (undefined when they describe none). */
  private explain(target: TargetSpec | string = this.target.value(), how?: { background?: boolean }): string | undefined {
    const s = this.store.state;
    const method = this.selectedMethod();
    if (!s.selectedImageId || !method || typeof target === 'string') return undefined;
    const options = this.options.changed();
    return this.store.request(
      'explain',
      {
        imageId: s.selectedImageId,
        method: method.name,
        layer: method.usesLayer ? this.layer.value || 'auto' : 'auto',
        target,
        ...(Object.keys(options).length > 0 ? { options } : {}),
      },
      `${method.title}…`,
      how,
    );
  }

  private renderResult(s: State): void {
    const image = this.store.selectedImage();
    const explanation = this.store.shownExplanation();
    this.empty.hidden = !!image;
    this.result.hidden = !image;
    if (!image) {
      replaceChildren(this.empty, h('p', {}, 'Choose an image above (or drop image files onto the panel) to see its predictions and explain them.'));
      return;
    }
    this.display.setSigned(!!explanation?.map.signed);
    const key = explanation ? explanation.id : `image:${image.id}`;
    const title = explanation ? (s.methods.find((m) => m.name === explanation.method)?.title ?? explanation.method) : '';
    const nd = this.nd.show(image, explanation?.map, s, title, key);
    (this.figure.canvas.closest('.figure-wrap') as HTMLElement).hidden = nd;
    if (!nd) void this.figure.show(image, explanation?.map, s, key);
    this.renderDetails(explanation, image.name);
  }

  private renderDetails(e: ExplanationView | undefined, imageName: string): void {
    if (this.caption.dataset.explanation === (e?.id ?? '') && this.caption.dataset.image === imageName) return;
    this.caption.dataset.explanation = e?.id ?? '';
    this.caption.dataset.image = imageName;
    if (!e) {
      replaceChildren(this.caption, h('strong', {}, imageName), h('span', { class: 'muted' }, ' · run an explanation to see it over the image'));
      replaceChildren(this.exports);
      replaceChildren(this.notes);
      return;
    }
    const title = this.store.state.methods.find((m) => m.name === e.method)?.title ?? e.method;
    replaceChildren(
      this.caption,
      h('strong', {}, title),
      ` for ${e.targetLabel}`,
      e.layer ? h('span', { class: 'muted', title: e.layer }, ` · layer ${layerLabel(this.store.state.model, e.layer)}`) : null,
      h('span', { class: 'muted' }, ` · ${imageName}`),
    );
    replaceChildren(
      this.exports,
      exportButtons(e.id, this.store, () => this.nd.png()),
    );
    replaceChildren(
      this.notes,
      [...e.notes, `Computed in ${e.seconds.toFixed(2)} s.`].map((n) => h('li', {}, n)),
    );
  }
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h('div', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
}
