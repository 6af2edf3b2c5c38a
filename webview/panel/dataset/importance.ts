// Which channels of the dataset's layer matter for a class: mean gradient × activation over the
// images the network assigns to the class, and on request the drop of the class logit when each of
// the top channels is zeroed (ablation), side by side as bars.
import type { ImportanceView } from '../../../src/protocol';
import { h, replaceChildren, Select, setOptions } from '../../dom';
import { isRunning, Results, State, Store } from '../../store';

/** Channels shown (and ablated). */
const TOP = 16;

export class ImportanceSection {
  readonly element: HTMLElement;
  private readonly cls = h('vscode-single-select', { id: 'importance-class', label: 'Class' }) as Select;
  private readonly run = h('vscode-button', { id: 'importance-run' }, 'Rank channels');
  private readonly ablate = h('vscode-button', { id: 'importance-ablate', secondary: true }, `Ablate top ${TOP}`);
  private readonly body = h('div', { class: 'importance-body', 'aria-live': 'polite' });
  private shown?: { dataset: Results['datasetFeatures']; importance?: ImportanceView; ablation?: ImportanceView };

  constructor(private readonly store: Store) {
    this.run.addEventListener('click', () => this.request('gradient'));
    this.ablate.addEventListener('click', () => this.request('ablation'));
    this.element = h(
      'section',
      { class: 'card importance', 'aria-label': 'Channel importance' },
      h('h3', {}, 'Channel importance'),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Class'), this.cls),
        h('div', { class: 'run-row' }, this.run, this.ablate),
      ),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    const busy = isRunning(s, 'datasetImportance');
    this.run.toggleAttribute('disabled', !s.results.datasetFeatures || busy);
    this.ablate.toggleAttribute('disabled', !s.results.datasetImportance || busy);
    if (this.shown?.dataset !== s.results.datasetFeatures)
      setOptions(
        this.cls,
        (s.results.datasetFeatures?.classNames ?? []).map((name, i) => ({ value: String(i), label: name })),
      );
    const last = this.shown;
    if (last && last.dataset === s.results.datasetFeatures && last.importance === s.results.datasetImportance && last.ablation === s.ablation) return;
    this.shown = { dataset: s.results.datasetFeatures, importance: s.results.datasetImportance, ablation: s.ablation };
    this.renderBody(s.results.datasetImportance, s.ablation);
  }

  private request(method: 'gradient' | 'ablation'): void {
    const ranked = this.store.state.results.datasetImportance;
    const classIndex = method === 'ablation' && ranked ? ranked.classIndex : Number(this.cls.value);
    if (!Number.isInteger(classIndex)) return;
    const channels = method === 'ablation' && ranked ? ranked.channels.slice(0, TOP).map((c) => c.channel) : undefined;
    this.store.request('datasetImportance', { classIndex, method, ...(channels ? { channels } : {}) }, method === 'ablation' ? 'Ablating channels…' : 'Ranking channels…');
  }

  private renderBody(g: ImportanceView | undefined, a: ImportanceView | undefined): void {
    if (!g)
      return replaceChildren(
        this.body,
        h('p', { class: 'muted' }, "Rank the layer's channels by how much they push a class up: mean gradient × activation over the images predicted as it."),
      );
    const ablated = a && a.classIndex === g.classIndex ? new Map(a.channels.map((c) => [c.channel, c.score])) : undefined;
    const top = g.channels.slice(0, TOP);
    const maxGradient = Math.max(1e-12, ...top.map((c) => Math.abs(c.score)));
    const maxDrop = ablated ? Math.max(1e-12, ...[...ablated.values()].map(Math.abs)) : 1;
    const bar = (value: number, max: number, kind: string) => {
      const el = h('span', { class: value < 0 ? `bar ${kind} negative` : `bar ${kind}` });
      el.style.width = `${(100 * Math.abs(value)) / max}%`;
      return h('span', { class: 'bar-track' }, el);
    };
    replaceChildren(
      this.body,
      h(
        'p',
        { class: 'small' },
        h('strong', {}, g.className),
        ` · ${g.images} images · ${g.formula}`,
        ablated ? h('span', { class: 'muted' }, ` · ablation: ${a!.formula}`) : null,
      ),
      h(
        'table',
        { class: 'importance-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Channel'), h('th', {}, 'Gradient × activation'), h('th', {}, ablated ? 'Logit drop when zeroed' : ''))),
        h(
          'tbody',
          {},
          top.map((c) => {
            const drop = ablated?.get(c.channel);
            return h(
              'tr',
              { 'data-channel': c.channel },
              h('td', { class: 'num' }, `#${c.channel}`),
              h('td', {}, h('span', { class: 'score-cell' }, bar(c.score, maxGradient, 'gradient'), h('span', { class: 'num small' }, c.score.toPrecision(3)))),
              h('td', {}, drop === undefined ? '' : h('span', { class: 'score-cell' }, bar(drop, maxDrop, 'ablation'), h('span', { class: 'num small' }, drop.toPrecision(3)))),
            );
          }),
        ),
      ),
    );
  }
}
