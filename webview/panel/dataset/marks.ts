// The planted-mark check (src/core/dataset/shortcut.ts): for every image a marks file lists as
// marked, the mark is painted over and the image run again. Channels whose pooled activation drops
// by at least minEffect standard deviations respond to the mark; marked images whose prediction
// changes relied on it. The verdict says whether the distilled rules test a mark channel (as the
// CLI's `convlens rules --marks`), and the changed images open in Explain.
import type { MarkCheckView, MarksFileView, RulesView } from '../../../src/protocol';
import { h, replaceChildren } from '../../dom';
import { post } from '../../host';
import { isRunning, Results, State, Store } from '../../store';
import { Pooling } from './rules';

/** Changed images shown as thumbnails. */
const SHOWN_CHANGES = 8;

/** The marks file the check reads: the one the user picked, else the dataset's own boxes.json. */
export function marksFile(s: State): MarksFileView | undefined {
  if (s.pickedMarks) return s.pickedMarks;
  const own = s.results.datasetFeatures?.marks;
  return own ? { path: own.file, label: `boxes.json at the dataset root (${own.marked} marked images)` } : undefined;
}

/**
 * One line like the CLI's: how many marked images change prediction without the mark, and whether
 * the rules test mark channels (`relies` is undefined until there are rules).
 */
export function markVerdict(check: MarkCheckView, rules: RulesView | undefined): { text: string; relies?: boolean; used: number[] } {
  const changes = `${check.predictionChanges.length} of ${check.images} marked images change prediction without the mark`;
  if (!rules) return { text: `${changes}; distil rules to see whether they test the mark channels.`, used: [] };
  const marks = new Set(check.markChannels);
  const used = rules.channels.map((c) => c.channel).filter((c) => marks.has(c));
  const pooled = rules.pooling === check.pooling ? '' : ` (rules on the ${rules.pooling}, mark check on the ${check.pooling} of each channel)`;
  const text = used.length
    ? `${changes}; the rules test mark channel${used.length > 1 ? 's' : ''} ${used.join(', ')}: the network relies on the mark${pooled}.`
    : `${changes}; the rules test none of the mark channels${pooled}.`;
  return { text, relies: used.length > 0, used };
}

export class MarkCheckSection {
  readonly element: HTMLElement;
  private readonly file = h('span', { class: 'marks-file' });
  private readonly pick = h('vscode-button', { id: 'marks-pick', secondary: true, onClick: () => post({ type: 'pickMarks' }) }, 'Choose marks file…');
  private readonly run = h('vscode-button', { id: 'marks-run' }, 'Check the mark');
  private readonly body = h('div', { class: 'mark-body', 'aria-live': 'polite' });
  private requestId?: string;
  private shown?: { file?: MarksFileView; check?: MarkCheckView; rules?: RulesView; error?: State['error']; dataset: Results['datasetFeatures'] };

  constructor(
    private readonly store: Store,
    private readonly pooling: () => Pooling,
    openImage: (relPath: string) => void,
  ) {
    this.run.addEventListener('click', () => this.check());
    this.body.addEventListener('click', (e) => {
      const relPath = (e.target as HTMLElement).closest<HTMLElement>('[data-rel-path]')?.dataset.relPath;
      if (relPath) openImage(relPath);
    });
    this.element = h(
      'section',
      { class: 'card mark-check', 'aria-label': 'Planted mark check' },
      h('h3', {}, 'Does the network read a planted mark?'),
      h(
        'p',
        { class: 'muted small' },
        "For every image the marks file lists as marked, the mark is painted over with the colour around it and the image is run again. Channels that drop by a standard deviation or more respond to the mark; marked images whose prediction changes relied on it. Channels are pooled as the rules' (above).",
      ),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field wide' }, h('span', { class: 'field-label' }, 'Marks file'), this.file),
        h('div', { class: 'run-row' }, this.pick, this.run),
      ),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    const file = marksFile(s);
    this.pick.toggleAttribute('disabled', !s.results.datasetFeatures);
    this.run.toggleAttribute('disabled', !s.results.datasetFeatures || !file || isRunning(s, 'datasetMarkCheck'));
    const error = s.error?.requestId !== undefined && s.error.requestId === this.requestId ? s.error : undefined;
    const last = this.shown;
    if (
      last &&
      last.file?.path === file?.path &&
      last.check === s.results.datasetMarkCheck &&
      last.rules === s.results.datasetRules &&
      last.error === error &&
      last.dataset === s.results.datasetFeatures
    )
      return;
    this.shown = { file, check: s.results.datasetMarkCheck, rules: s.results.datasetRules, error, dataset: s.results.datasetFeatures };
    replaceChildren(
      this.file,
      file ? h('span', { class: 'mono', title: file.path }, file.label) : h('span', { class: 'muted' }, 'none: the dataset has no boxes.json of mark boxes at its root'),
    );
    if (error) return replaceChildren(this.body, h('p', { class: 'warning mark-error', role: 'alert' }, error.message));
    if (!s.results.datasetMarkCheck)
      return replaceChildren(
        this.body,
        h(
          'p',
          { class: 'muted' },
          file
            ? 'Press Check the mark to measure it.'
            : 'Choose a marks file: JSON with { "images": { "<path relative to the file>": { "mark": { "bbox": [x0, y0, x1, y1] } } } }, as sample/dataset-shortcut/boxes.json.',
        ),
      );
    this.renderCheck(s.results.datasetMarkCheck, s.results.datasetRules, s.results.datasetFeatures);
  }

  private check(): void {
    const file = marksFile(this.store.state);
    if (!file) return;
    this.requestId = this.store.request('datasetMarkCheck', { marksFile: file.path, pooling: this.pooling() }, 'Checking the mark…');
  }

  private renderCheck(c: MarkCheckView, rules: RulesView | undefined, dataset: Results['datasetFeatures']): void {
    const verdict = markVerdict(c, rules);
    const marks = new Set(c.markChannels);
    const used = new Set(verdict.used);
    const maxEffect = Math.max(1e-12, ...c.channels.map((ch) => Math.abs(ch.effect)));
    // Only the positive finding gets a badge: rules that skip the mark channels do not clear a network whose predictions change.
    const badge = verdict.relies ? h('span', { class: 'badge' }, 'rules read the mark') : null;
    const thumbnails = new Map(dataset?.images.map((im) => [im.relPath, im.thumbnail]));
    replaceChildren(
      this.body,
      h('p', { class: verdict.relies ? 'verdict mark-verdict failed' : 'verdict mark-verdict' }, badge, badge ? ' ' : null, verdict.text),
      h(
        'p',
        { class: 'muted small mark-facts' },
        `${c.file}: ${c.images} of ${c.listed} marked images are in the dataset · channel = ${c.pooling} over the image · `,
        c.markChannels.length ? `${c.markChannels.length} mark channels (drop ≥ ${c.minEffect}σ): ${c.markChannels.join(', ')}` : `no channel drops by ${c.minEffect}σ or more`,
      ),
      h(
        'table',
        { class: 'mark-table', 'aria-label': 'Channels responding most to the mark' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'Channel'), h('th', {}, 'Drop without the mark (σ)'), h('th', { class: 'num' }, 'With'), h('th', { class: 'num' }, 'Without'), h('th', {}, '')),
        ),
        h(
          'tbody',
          {},
          c.channels.map((ch) => {
            const bar = h('span', { class: ch.effect < 0 ? 'bar negative' : 'bar' });
            bar.style.width = `${(100 * Math.abs(ch.effect)) / maxEffect}%`;
            return h(
              'tr',
              { 'data-channel': ch.channel, class: marks.has(ch.channel) ? 'mark-channel' : undefined },
              h('td', { class: 'num' }, `#${ch.channel}`),
              h('td', {}, h('span', { class: 'score-cell' }, h('span', { class: 'bar-track' }, bar), h('span', { class: 'num small' }, ch.effect.toFixed(2)))),
              h('td', { class: 'num small' }, ch.withMark.toPrecision(3)),
              h('td', { class: 'num small' }, ch.withoutMark.toPrecision(3)),
              h('td', {}, used.has(ch.channel) ? h('span', { class: 'chip mark-chip' }, 'in the rules') : null),
            );
          }),
        ),
      ),
      verdict.used.some((ch) => !c.channels.some((shown) => shown.channel === ch))
        ? h('p', { class: 'small' }, `Also mark channels the rules test: ${verdict.used.filter((ch) => !c.channels.some((shown) => shown.channel === ch)).join(', ')}.`)
        : null,
      c.predictionChanges.length ? changes(c, thumbnails) : h('p', { class: 'small' }, 'No marked image changes prediction without the mark.'),
    );
  }
}

/** The class changes without the mark, counted, and the first changed images (click: explain). */
function changes(c: MarkCheckView, thumbnails: Map<string, string | undefined>): HTMLElement {
  const counts = new Map<string, number>();
  for (const p of c.predictionChanges) counts.set(`${p.withMark} → ${p.withoutMark}`, (counts.get(`${p.withMark} → ${p.withoutMark}`) ?? 0) + 1);
  const summary = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([change, n]) => `${change} ×${n}`)
    .join(' · ');
  return h(
    'div',
    { class: 'mark-changes' },
    h('h4', {}, `Prediction without the mark (${c.predictionChanges.length} changed)`),
    h('p', { class: 'small mark-transitions' }, summary),
    h(
      'div',
      { class: 'mistakes' },
      c.predictionChanges.slice(0, SHOWN_CHANGES).map((p) => {
        const thumbnail = thumbnails.get(p.relPath);
        return h(
          'button',
          { type: 'button', class: 'mini-thumb', 'data-rel-path': p.relPath, title: `${p.relPath}: ${p.withMark} with the mark, ${p.withoutMark} without; open in Explain` },
          thumbnail ? h('img', { src: thumbnail, alt: '' }) : null,
          h('span', { class: 'mini-caption' }, `${p.withMark} → ${p.withoutMark}`),
        );
      }),
    ),
  );
}
