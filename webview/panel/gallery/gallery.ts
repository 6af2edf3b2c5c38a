// The "Explain all" tab: choose a folder of images (the workspace's image folders the host offers,
// or "Choose folder…"), a method with its options, layer and target (the Explain tab's controls),
// and Run: the view asks the host for the folder's images page after page (explainAll requests of
// PAGE images), with a progress bar, the time left and Cancel; a cancelled run resumes at the next
// page. The cards (./grid.ts) can be sorted and filtered by predicted class or score; a click
// loads the image in the panel and explains it in the Explain tab with the run's settings.
import { GALLERY_PAGE as PAGE } from '../../../src/protocol';
import type { ExplainAllView, MethodView, Prediction, RequestParams } from '../../../src/protocol';
import { adoptStyles, h, percent, replaceChildren, Select, setOptions } from '../../dom';
import { post } from '../../host';
import { MethodOptions } from '../../method-options';
import { layerOptions, MethodChoice } from '../../pickers';
import { State, Store } from '../../store';
import { TargetChooser } from '../target';
import css from './gallery.css';
import { arrange, CardGrid, GalleryCard, GallerySort, keptCard } from './grid';

type Settings = Omit<RequestParams<'explainAll'>, 'offset' | 'limit'>;

/** One run over a folder: the cards so far and where it stands. */
interface Run {
  settings: Settings;
  /** To tell a rerun of the same settings (which resumes) from a new one. */
  key: string;
  cards: GalleryCard[];
  total?: number;
  /** The request in flight. */
  requestId?: string;
  state: 'running' | 'stopped' | 'done';
  message: string;
  fraction: number;
  seconds: number;
}

export class GalleryTab {
  readonly element: HTMLElement;
  private readonly folder = h('vscode-single-select', { id: 'explain-all-folder', label: 'Folder' }) as Select;
  private readonly method = h('vscode-single-select', { id: 'explain-all-method', label: 'Method' }) as Select;
  /** The settings' default until the user picks a method here; then their pick stands. */
  private readonly methodChoice = new MethodChoice(this.method);
  private readonly layer = h('vscode-single-select', { id: 'explain-all-layer', label: 'Layer' }) as Select;
  private readonly layerField = field('Layer', this.layer);
  private readonly options = new MethodOptions('explain-all-');
  private readonly target = new TargetChooser('explain-all-');
  private readonly run = h('vscode-button', { id: 'explain-all-run' }, 'Run');
  private readonly cancel = h('vscode-button', { id: 'explain-all-cancel', secondary: true, hidden: true }, 'Cancel');
  private readonly bar = h('vscode-progress-bar', { id: 'explain-all-progress', 'aria-label': 'Explain all: progress' }) as HTMLElement & {
    value?: number;
    indeterminate: boolean;
  };
  private readonly message = h('span', { class: 'explain-all-message', role: 'status', 'aria-live': 'polite' });
  private readonly progress = h('div', { class: 'explain-all-status', hidden: true }, this.bar, this.message);
  private readonly sort = h('vscode-single-select', { id: 'explain-all-sort', label: 'Sort' }) as Select;
  private readonly classFilter = h('vscode-single-select', { id: 'explain-all-class', label: 'Predicted class' }) as Select;
  private readonly minScore = h('input', { id: 'explain-all-min-score', type: 'number', min: 0, max: 100, step: 1, value: 0, 'aria-label': 'Lowest score, percent' });
  private readonly summary = h('p', { class: 'explain-all-summary muted' });
  private readonly grid: CardGrid;
  private readonly results: HTMLElement;
  private readonly empty = h('p', { class: 'empty-state' });
  private current?: Run;
  private lastPage?: ExplainAllView;
  private shown?: { model: State['model']; methods: MethodView[]; folders: State['galleryFolders']; chosen?: string; preferred?: string };
  private targetPredictions?: Prediction[];

  constructor(
    private readonly store: Store,
    private readonly openInExplain: () => void,
  ) {
    adoptStyles(css);
    this.grid = new CardGrid((card) => this.open(card));
    this.method.addEventListener('change', () => this.syncMethod());
    this.run.addEventListener('click', () => this.start());
    this.cancel.addEventListener('click', () => this.stop());
    setOptions(this.sort, [
      { value: 'name', label: 'File name' },
      { value: 'score-desc', label: 'Score, highest first' },
      { value: 'score-asc', label: 'Score, lowest first' },
      { value: 'class', label: 'Predicted class' },
    ]);
    for (const control of [this.sort, this.classFilter]) control.addEventListener('change', () => this.arrange());
    this.minScore.addEventListener('input', () => this.arrange());
    const pick = h('vscode-button', { id: 'explain-all-pick', secondary: true, onClick: () => post({ type: 'pickGalleryFolder' }) }, 'Choose folder…');
    const controls = h(
      'section',
      { class: 'card controls', 'aria-label': 'Explain all settings' },
      h('h3', {}, 'Explain all'),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field wide' }, h('span', { class: 'field-label' }, 'Folder (sub-folders included)'), this.folder),
        h('div', { class: 'run-row' }, pick),
      ),
      h('div', { class: 'compare-row' }, field('Method', this.method), this.layerField, field('Target', this.target.element)),
      this.options.element,
      h('div', { class: 'run-row' }, this.run, this.cancel),
      this.progress,
    );
    const tools = h(
      'div',
      { class: 'compare-row explain-all-tools' },
      field('Sort', this.sort),
      field('Predicted class', this.classFilter),
      h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Score at least (%)'), this.minScore),
    );
    this.results = h('section', { class: 'card explain-all-results', 'aria-label': 'Explained images', hidden: true }, tools, this.summary, this.grid.element);
    this.element = h('div', { class: 'explain-all' }, controls, this.empty, this.results);
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    const last = this.shown;
    if (last?.model !== s.model) this.reset();
    if (last?.methods !== s.methods || last?.model !== s.model || last?.preferred !== s.preferredMethod) {
      this.methodChoice.offer(s.methods, s.preferredMethod);
      setOptions(this.layer, layerOptions(s));
      const classes = s.model?.outputs[0]?.shape.at(-1);
      this.target.classCount = typeof classes === 'number' ? classes : undefined;
      this.syncMethod();
    }
    if (last?.folders !== s.galleryFolders || last?.chosen !== s.chosenGalleryFolder) {
      const options = s.galleryFolders.map((f) => ({ value: f.path, label: f.label, description: f.images === undefined ? '' : `${f.images} images` }));
      setOptions(this.folder, options, s.chosenGalleryFolder);
    }
    this.shown = { model: s.model, methods: s.methods, folders: s.galleryFolders, chosen: s.chosenGalleryFolder, preferred: s.preferredMethod };
    const predictions = s.selectedImageId ? s.predictions.get(s.selectedImageId) : undefined;
    if (predictions && predictions !== this.targetPredictions) this.target.setPredictions(predictions);
    this.targetPredictions = predictions;
    this.grid.setDisplay(s.colormap, s.opacity);
    this.follow(s);
    const running = this.current?.state === 'running';
    this.run.toggleAttribute('disabled', running || !s.model || s.methods.length === 0 || s.galleryFolders.length === 0);
    this.run.textContent = this.resumable() ? 'Resume' : 'Run';
    this.cancel.hidden = !running;
    this.empty.hidden = !!this.current;
    if (!this.current) {
      replaceChildren(
        this.empty,
        s.galleryFolders.length
          ? 'Choose a folder and the explanation, then Run: every image of the folder is explained and shown as a card; sort and filter them by prediction or score, and click one to open it in Explain.'
          : 'No folder of the workspace holds images. Choose a folder with "Choose folder…".',
      );
    }
  }

  /** Follows the request in flight: its progress, then its page (and asks for the next) or its end. */
  private follow(s: State): void {
    const run = this.current;
    if (!run?.requestId) return;
    const request = s.requests.get(run.requestId);
    if (request) {
      if (request.fraction !== undefined) run.fraction = request.fraction;
      // A run being cancelled says so until its request ends, not the request's last progress.
      if (run.state === 'running') run.message = request.message;
      return this.renderProgress();
    }
    run.requestId = undefined;
    const page = s.results.explainAll;
    if (page && page !== this.lastPage && page.folder === run.settings.folder && page.offset === run.cards.length) {
      this.lastPage = page;
      run.cards.push(...page.cards.map(keptCard));
      run.total = page.total;
      run.seconds += page.seconds;
      run.fraction = page.total ? run.cards.length / page.total : 1;
      if (run.cards.length >= page.total) {
        run.state = 'done';
        run.message = `${page.total} images explained in ${run.seconds.toFixed(1)} s.`;
      } else if (run.state === 'running') {
        queueMicrotask(() => this.requestPage());
      } else run.message = `Stopped at ${run.cards.length} of ${page.total} images; Resume goes on from there.`;
      this.renderCards();
    } else {
      // Cancelled or failed: what arrived stays, and Resume goes on from it.
      run.state = 'stopped';
      run.message = run.cards.length
        ? `Stopped at ${run.cards.length}${run.total ? ` of ${run.total}` : ''} images; Resume goes on from there.`
        : 'Stopped before any image was explained.';
    }
    this.renderProgress();
  }

  private settings(): Settings | undefined {
    const method = this.selectedMethod();
    const target = this.target.value();
    const folder = this.folder.value;
    if (!method || !folder || typeof target === 'string') return undefined;
    const options = this.options.changed();
    return {
      folder,
      method: method.name,
      layer: method.usesLayer ? this.layer.value || 'auto' : 'auto',
      target,
      ...(Object.keys(options).length > 0 ? { options } : {}),
    };
  }

  /** Whether Run would go on with the current run (same settings, stopped before the end). */
  private resumable(): boolean {
    const settings = this.settings();
    return !!settings && this.current?.state === 'stopped' && this.current.cards.length > 0 && this.current.key === JSON.stringify(settings);
  }

  private start(): void {
    const settings = this.settings();
    if (!settings) return;
    if (this.resumable()) {
      this.current!.state = 'running';
    } else {
      this.current = { settings, key: JSON.stringify(settings), cards: [], state: 'running', message: 'Starting…', fraction: 0, seconds: 0 };
      this.renderCards();
    }
    this.requestPage();
  }

  private requestPage(): void {
    const run = this.current;
    if (!run || run.state !== 'running' || run.requestId) return;
    const offset = run.cards.length;
    const limit = run.total === undefined ? PAGE : Math.min(PAGE, Math.max(1, run.total - offset));
    run.requestId = this.store.request('explainAll', { ...run.settings, offset, limit }, `Explain all: images from ${offset + 1}…`);
    this.render(this.store.state);
  }

  private stop(): void {
    const run = this.current;
    if (!run || run.state !== 'running') return;
    run.state = 'stopped';
    if (run.requestId) post({ type: 'cancel', requestId: run.requestId });
    run.message = 'Cancelling…';
    this.render(this.store.state);
  }

  private open(card: GalleryCard): void {
    const run = this.current;
    if (!run) return;
    post({ type: 'galleryOpenImage', relPath: card.relPath, ...run.settings });
    this.openInExplain();
  }

  private reset(): void {
    this.current = undefined;
    this.lastPage = this.store.state.results.explainAll;
    this.grid.clear();
    this.results.hidden = true;
    this.progress.hidden = true;
  }

  private renderProgress(): void {
    const run = this.current;
    this.progress.hidden = !run;
    if (!run) return;
    this.bar.indeterminate = false;
    this.bar.value = Math.round(Math.min(1, Math.max(0, run.fraction)) * 100);
    this.message.textContent = run.message;
  }

  /** The class filter's choices follow the classes predicted so far; the grid shows what sort and filter keep. */
  private renderCards(): void {
    const run = this.current;
    this.results.hidden = !run;
    if (!run) return;
    const counts = new Map<number, { label: string; count: number }>();
    let failed = 0;
    for (const c of run.cards) {
      if (c.error) failed++;
      if (!c.prediction) continue;
      const entry = counts.get(c.prediction.index) ?? { label: c.prediction.label, count: 0 };
      entry.count++;
      counts.set(c.prediction.index, entry);
    }
    const options = [
      { value: 'all', label: 'All classes' },
      ...[...counts.entries()].sort((a, b) => a[1].label.localeCompare(b[1].label)).map(([index, { label, count }]) => ({ value: String(index), label: `${label} (${count})` })),
      ...(failed ? [{ value: 'failed', label: `Not explained (${failed})` }] : []),
    ];
    const key = options.map((o) => o.value + o.label).join('|');
    if (this.classFilter.dataset.options !== key) {
      this.classFilter.dataset.options = key;
      setOptions(this.classFilter, options);
    }
    this.arrange();
  }

  private arrange(): void {
    const run = this.current;
    if (!run) return;
    const chosen = this.classFilter.value;
    const classIndex = chosen === 'failed' ? 'failed' : chosen && chosen !== 'all' ? Number(chosen) : undefined;
    const score = Number(this.minScore.value);
    const minScore = Number.isFinite(score) ? Math.min(1, Math.max(0, score / 100)) : 0;
    const sort = (['name', 'score-desc', 'score-asc', 'class'].includes(this.sort.value) ? this.sort.value : 'name') as GallerySort;
    const cards = arrange(run.cards, sort, { classIndex, minScore });
    this.grid.setCards(cards);
    const of = run.total === undefined ? '' : ` (${run.cards.length} of ${run.total} explained)`;
    this.summary.textContent = `${cards.length} of ${run.cards.length} images shown${of}${
      classIndex !== undefined || minScore > 0 ? ` · filtered${minScore > 0 ? ` to scores ≥ ${percent(minScore, 0)}` : ''}` : ''
    }.`;
  }

  private selectedMethod(): MethodView | undefined {
    return this.store.state.methods.find((m) => m.name === this.method.value) ?? this.store.state.methods[0];
  }

  private syncMethod(): void {
    const m = this.selectedMethod();
    this.layerField.hidden = !m?.usesLayer;
    this.options.show(m);
  }
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h('div', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
}
