// Error analysis in the Dataset tab: the confusion matrix (rows: folder label, columns:
// prediction), the most confused pairs and the clusters of errors in the feature map
// (datasetErrors), each linking to the slice view; and the slice view itself, which filters the
// dataset by label, prediction, confidence range, correctness, a distilled rule or the images
// chosen on the map, and shows it a page of display-sized thumbnails at a time (datasetSlice);
// clicking a thumbnail opens the image in the Explain tab.
import type { ErrorAnalysisView, RulesView, SliceFilterSpec, SliceView } from '../../../src/protocol';
import { h, percent, replaceChildren, Select, setOptions } from '../../dom';
import { isRunning, State, Store } from '../../store';
import { adoptDatasetStyles } from './typed-arrays';

/** Thumbnails a slice page shows. */
const PAGE_SIZE = 24;

export class ErrorAnalysisSection {
  readonly element: HTMLElement;
  private readonly run = h('vscode-button', { id: 'errors-run' }, 'Analyse errors');
  private readonly body = h('div', { class: 'errors-body' });
  private shown?: ErrorAnalysisView;

  constructor(
    store: Store,
    private readonly slices: SliceSection,
    private readonly highlight: (images: number[]) => void,
  ) {
    adoptDatasetStyles();
    this.run.addEventListener('click', () => {
      const method = store.state.results.datasetMap?.method ?? 'pca';
      store.request('datasetErrors', { method }, 'Analysing the errors…');
    });
    this.element = h(
      'section',
      { class: 'card errors-card', 'aria-label': 'Error analysis' },
      h('h3', {}, 'Errors'),
      h(
        'p',
        { class: 'muted small' },
        'Where the network is wrong: the confusion matrix, the pairs it confuses most, and groups of errors that lie together in the feature map. Each opens the images in the slice view.',
      ),
      h('div', { class: 'run-row' }, this.run),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.run.toggleAttribute('disabled', !s.results.datasetFeatures || isRunning(s, 'datasetErrors'));
    const view = s.results.datasetErrors;
    if (view === this.shown) return;
    this.shown = view;
    if (!view) return replaceChildren(this.body);
    const name = (k: number) => view.classNames[k] ?? `class ${k}`;
    const pair = (label: number, prediction: number) => `${name(label)} → ${name(prediction)}`;
    const max = Math.max(1, ...view.confusion.flatMap((row, i) => row.filter((_, j) => j !== i)));
    const matrix = h(
      'table',
      { class: 'confusion', 'aria-label': 'Confusion matrix: rows are folder labels, columns predictions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'label ╲ predicted'),
          view.classNames.map((c) => h('th', { class: 'num' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        view.confusion.map((row, i) =>
          h(
            'tr',
            {},
            h('th', {}, name(i)),
            row.map((count, j) => {
              const cell = h(
                'td',
                { class: `num${i === j ? ' diagonal' : count ? ' off' : ''}` },
                count
                  ? h(
                      'button',
                      {
                        type: 'button',
                        class: 'cell-link',
                        title: `${count} images labelled ${name(i)} predicted ${name(j)}: show them`,
                        onClick: () => this.slices.show({ label: i, prediction: j }, pair(i, j)),
                      },
                      count,
                    )
                  : '0',
              );
              if (i !== j && count) cell.style.setProperty('--heat', String(count / max));
              return cell;
            }),
          ),
        ),
      ),
    );
    const pairs = view.pairs.length
      ? h(
          'ol',
          { class: 'confused-pairs' },
          view.pairs.map((p) =>
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'link', onClick: () => this.slices.show({ label: p.label, prediction: p.prediction }, pair(p.label, p.prediction)) },
                pair(p.label, p.prediction),
              ),
              ` ${p.count} (${percent(p.shareOfLabel, 0)} of ${name(p.label)})`,
            ),
          ),
        )
      : h('p', {}, 'No labelled image is misclassified.');
    const clusters = view.clusters.length
      ? h(
          'ol',
          { class: 'error-clusters' },
          view.clusters.map((c, k) =>
            h(
              'li',
              {},
              h(
                'button',
                {
                  type: 'button',
                  class: 'link',
                  'data-cluster': k,
                  onClick: () => {
                    this.highlight(c.members);
                    this.slices.show({ images: c.members }, `error cluster ${k + 1}`);
                  },
                },
                `${c.members.length} errors`,
              ),
              ` mostly ${pair(c.label, c.prediction)} (${c.pairCount})`,
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No group of three or more errors lies together in the map.');
    replaceChildren(
      this.body,
      h('h4', {}, 'Confusion matrix'),
      matrix,
      h('h4', {}, 'Most confused'),
      pairs,
      h('h4', {}, `Clusters of errors in the ${view.method.toUpperCase()} map`),
      h('p', { class: 'muted small' }, `Errors within ${percent(view.radiusShare, 0)} of the map's width of each other, chained.`),
      clusters,
    );
  }
}

export class SliceSection {
  readonly element: HTMLElement;
  private readonly label = h('vscode-single-select', { id: 'slice-label', label: 'Label' }) as Select;
  private readonly prediction = h('vscode-single-select', { id: 'slice-prediction', label: 'Prediction' }) as Select;
  private readonly correctness = h('vscode-single-select', { id: 'slice-correctness', label: 'Correct' }) as Select;
  private readonly rule = h('vscode-single-select', { id: 'slice-rule', label: 'Rule' }) as Select;
  private readonly confidenceMin = h('input', { id: 'slice-confidence-min', type: 'number', min: 0, max: 100, step: 1, value: 0, 'aria-label': 'Lowest confidence, percent' });
  private readonly confidenceMax = h('input', { id: 'slice-confidence-max', type: 'number', min: 0, max: 100, step: 1, value: 100, 'aria-label': 'Highest confidence, percent' });
  private readonly run = h('vscode-button', { id: 'slice-run' }, 'Show slice');
  private readonly heading = h('p', { class: 'slice-heading' });
  private readonly grid = h('div', { class: 'slice-grid' });
  private readonly pager = h('div', { class: 'slice-pager' });
  /** The filter of the slice shown and what it is called; `images` stays out of the pickers. */
  private current?: { filter: SliceFilterSpec; title: string };
  private shown?: { slice?: SliceView; classes?: string[]; rules?: RulesView };

  constructor(
    private readonly store: Store,
    private readonly openImage: (relPath: string) => void,
  ) {
    adoptDatasetStyles();
    setOptions(
      this.correctness,
      [
        { value: 'any', label: 'any' },
        { value: 'wrong', label: 'misclassified' },
        { value: 'correct', label: 'correct' },
      ],
      'any',
    );
    this.run.addEventListener('click', () => this.show(this.pickedFilter(), 'filtered'));
    this.grid.addEventListener('click', (e) => {
      const relPath = (e.target as HTMLElement).closest<HTMLElement>('[data-rel-path]')?.dataset.relPath;
      if (relPath) this.openImage(relPath);
    });
    this.element = h(
      'section',
      { class: 'card slice-card', 'aria-label': 'Slice view' },
      h('h3', {}, 'Slice'),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Label'), this.label),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Prediction'), this.prediction),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Correct'), this.correctness),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Confidence %'), h('span', { class: 'range' }, this.confidenceMin, '–', this.confidenceMax)),
        h('div', { class: 'field wide' }, h('span', { class: 'field-label' }, 'Rule'), this.rule),
        h('div', { class: 'run-row' }, this.run),
      ),
      this.heading,
      this.grid,
      this.pager,
    );
    store.subscribe((s) => this.render(s));
  }

  /** Shows the first page of a slice (from the matrix, a pair, a cluster or the map's lasso). */
  show(filter: SliceFilterSpec, title: string, offset = 0): void {
    this.current = { filter, title };
    this.store.request('datasetSlice', { filter, offset, pageSize: PAGE_SIZE }, `Slice: ${title}…`);
    this.element.scrollIntoView?.({ block: 'nearest' });
  }

  private pickedFilter(): SliceFilterSpec {
    const index = (select: Select) => (select.value === '' || select.value === 'any' ? undefined : Number(select.value));
    const bound = (input: HTMLInputElement, fallback: number) => {
      const v = Number(input.value);
      return Number.isFinite(v) ? Math.min(1, Math.max(0, v / 100)) : fallback;
    };
    const [low, high] = [bound(this.confidenceMin, 0), bound(this.confidenceMax, 1)];
    const correctness = this.correctness.value === 'wrong' || this.correctness.value === 'correct' ? this.correctness.value : undefined;
    return {
      label: index(this.label),
      prediction: index(this.prediction),
      correctness,
      rule: index(this.rule),
      ...(low > 0 || high < 1 ? { confidenceMin: low, confidenceMax: high } : {}),
    };
  }

  private render(s: State): void {
    this.run.toggleAttribute('disabled', !s.results.datasetFeatures || isRunning(s, 'datasetSlice'));
    const classes = s.results.datasetFeatures?.classNames;
    const rules = s.results.datasetRules;
    if (classes !== this.shown?.classes) {
      const options = [{ value: 'any', label: 'any' }, ...(classes ?? []).map((c, k) => ({ value: String(k), label: c }))];
      setOptions(this.label, options, 'any');
      setOptions(this.prediction, options, 'any');
    }
    if (rules !== this.shown?.rules) {
      setOptions(this.rule, [{ value: 'any', label: 'any' }, ...(rules?.rules ?? []).map((r, k) => ({ value: String(k), label: `${k + 1}: ${r.text}` }))], 'any');
    }
    const slice = s.results.datasetSlice;
    if (slice !== this.shown?.slice) this.renderSlice(slice);
    this.shown = { slice, classes, rules };
  }

  private renderSlice(slice: SliceView | undefined): void {
    if (!slice || !this.current) {
      replaceChildren(this.heading, 'Choose a filter, or click a cell of the confusion matrix, a confused pair, an error cluster or points chosen on the map.');
      replaceChildren(this.grid);
      replaceChildren(this.pager);
      return;
    }
    const { filter, title } = this.current;
    const last = Math.min(slice.total, slice.offset + slice.images.length);
    replaceChildren(this.heading, h('strong', {}, title), slice.total ? ` · images ${slice.offset + 1}–${last} of ${slice.total.toLocaleString('en-US')}` : ' · no image matches');
    replaceChildren(
      this.grid,
      slice.images.map((im) => {
        const wrong = im.labelName !== undefined && im.labelName !== im.predictionName;
        return h(
          'button',
          {
            type: 'button',
            class: `mini-thumb${wrong ? ' wrong' : ''}`,
            'data-rel-path': im.relPath,
            'data-index': im.index,
            title: `${im.relPath}: ${im.labelName ?? 'no label'}, predicted ${im.predictionName} (${percent(im.confidence, 0)}); open in Explain`,
          },
          h('img', { src: im.thumbnail, alt: '' }),
          h('span', { class: 'mini-caption' }, `${im.labelName ?? '–'} → ${im.predictionName} ${percent(im.confidence, 0)}`),
        );
      }),
    );
    const previous = h(
      'vscode-button',
      { id: 'slice-previous', secondary: true, disabled: slice.offset === 0, onClick: () => this.show(filter, title, Math.max(0, slice.offset - PAGE_SIZE)) },
      'Previous',
    );
    const next = h(
      'vscode-button',
      { id: 'slice-next', secondary: true, disabled: last >= slice.total, onClick: () => this.show(filter, title, slice.offset + PAGE_SIZE) },
      'Next',
    );
    replaceChildren(this.pager, slice.total > PAGE_SIZE ? [previous, next] : []);
  }
}
