// Top-k predictions of the selected image as bars; choosing one makes it the explanation target.
import type { Prediction } from '../../src/protocol';
import { h, initRoving, percent, replaceChildren, rovingFocus } from '../dom';

export class PredictionList {
  readonly element = h('ol', { class: 'predictions', 'aria-label': 'Top predictions' });
  private shown?: Prediction[];

  constructor(private readonly onChoose: (index: number) => void) {
    rovingFocus(this.element, '.prediction', { horizontal: false });
  }

  render(predictions: Prediction[] | undefined, waiting: boolean): void {
    if (predictions === this.shown && predictions) return;
    this.shown = predictions;
    if (!predictions) return replaceChildren(this.element, h('li', { class: 'muted' }, waiting ? 'Predicting…' : 'Select an image to see its predictions.'));
    const items = predictions.map((p, rank) => this.item(p, rank));
    replaceChildren(this.element, items);
    initRoving(items.map((li) => li.querySelector<HTMLElement>('.prediction')!));
  }

  private item(p: Prediction, rank: number): HTMLElement {
    const bar = h('span', { class: 'bar' });
    bar.style.width = percent(p.probability, 2);
    const button = h(
      'button',
      {
        class: 'prediction',
        type: 'button',
        'data-index': p.index,
        title: `Explain class #${p.index} (logit ${p.logit.toFixed(3)})`,
        onClick: () => this.onChoose(p.index),
      },
      h('span', { class: 'pred-label' }, h('span', { class: 'rank' }, `${rank + 1}.`), ` ${p.label}`, h('span', { class: 'muted small' }, ` #${p.index}`)),
      h('span', { class: 'pred-prob' }, percent(p.probability)),
      h('span', { class: 'bar-track' }, bar),
    );
    return h('li', {}, button);
  }
}
