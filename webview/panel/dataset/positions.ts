// Shortcut discovery without a marks file: for each channel the rules use, where in the image its
// strongest activations peak across the dataset, as a coarse heatmap (datasetChannelPositions).
// A channel that keeps firing in one border cell is flagged as a likely shortcut; weak
// mean-pooled rules bring a suggestion to try max pooling. "Colour map" colours the feature map
// by that channel.
import type { ChannelPositionsView } from '../../../src/protocol';
import { h, percent, replaceChildren } from '../../dom';
import { isRunning, State, Store } from '../../store';
import { adoptDatasetStyles } from './typed-arrays';

const CELL = 14;

export class ChannelPositionsSection {
  readonly element: HTMLElement;
  private readonly run = h('vscode-button', { id: 'positions-run' }, 'Where do the rule channels fire?');
  private readonly body = h('div', { class: 'positions-body' });
  private shown?: ChannelPositionsView;

  constructor(
    store: Store,
    private readonly colourMapBy: (channel: number) => void,
  ) {
    adoptDatasetStyles();
    this.run.addEventListener('click', () => store.request('datasetChannelPositions', {}, 'Placing the rule channels…'));
    this.element = h(
      'section',
      { class: 'card positions-card', 'aria-label': 'Where the rule channels fire' },
      h('h3', {}, 'Where the rule channels fire'),
      h(
        'p',
        { class: 'muted small' },
        'For each channel the rules test: where in the image its strongest activations peak, over the images where it fires hardest. A channel that fires in one corner or edge whatever the image shows is likely reading a mark, not the object.',
      ),
      h('div', { class: 'run-row' }, this.run),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.run.toggleAttribute('disabled', !s.results.datasetRules || isRunning(s, 'datasetChannelPositions'));
    this.run.title = s.results.datasetRules ? '' : 'Distil rules first';
    const view = s.results.datasetChannelPositions;
    if (view === this.shown) return;
    this.shown = view;
    if (!view) return replaceChildren(this.body);
    replaceChildren(
      this.body,
      view.poolingSuggestion ? h('p', { class: 'warning pooling-suggestion' }, view.poolingSuggestion) : null,
      h(
        'p',
        { class: 'muted small' },
        `Peaks of each channel's top ${percent(view.topShare, 0)} images in a ${view.grid}×${view.grid} grid; flagged when one border cell holds ${percent(view.shortcutShare, 0)} or more.`,
      ),
      h(
        'div',
        { class: 'positions' },
        view.channels.map((c) => {
          const max = Math.max(1, ...c.counts);
          const cells = c.counts.map((count) => {
            const cell = h('span', { class: 'position-cell', title: `${count} of ${c.images}` });
            cell.style.setProperty('--heat', String(count / max));
            return cell;
          });
          const grid = h('div', { class: 'position-grid', role: 'img', 'aria-label': `channel ${c.channel}: ${percent(c.peakShare, 0)} of peaks in the ${c.where}` }, cells);
          grid.style.gridTemplateColumns = `repeat(${view.grid}, ${CELL}px)`;
          return h(
            'figure',
            { class: `position${c.likelyShortcut ? ' shortcut' : ''}`, 'data-channel': c.channel },
            grid,
            h(
              'figcaption',
              {},
              h('strong', {}, `channel ${c.channel}`),
              h('br', {}),
              `${percent(c.peakShare, 0)} in the ${c.where}`,
              c.likelyShortcut ? h('span', { class: 'badge warning' }, 'likely shortcut') : null,
              h('br', {}),
              h('button', { type: 'button', class: 'link', onClick: () => this.colourMapBy(c.channel) }, 'Colour map'),
            ),
          );
        }),
      ),
    );
  }
}
