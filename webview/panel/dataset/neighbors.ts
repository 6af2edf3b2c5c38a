// Case-based explanation: the dataset images most like the selected image in the network's feature
// space, with their folder labels and predictions (a neighbour the network predicts differently, or
// whose label differs, is marked). Once shown, they follow the selected image.
import type { NeighborsView } from '../../../src/protocol';
import { h, replaceChildren, Select, setOptions } from '../../dom';
import { isRunning, Results, State, Store } from '../../store';

export class NeighborsSection {
  readonly element: HTMLElement;
  private readonly k = h('vscode-single-select', { id: 'neighbors-k', label: 'How many' }) as Select;
  private readonly run = h('vscode-button', { id: 'neighbors-run' }, 'Find similar images');
  private readonly body = h('div', { class: 'neighbors-body', 'aria-live': 'polite' });
  private shown?: { neighbors?: NeighborsView; images: State['images']; dataset: Results['datasetFeatures'] };
  /** The image the last request was for: a newly selected image is looked up again. */
  private following?: string;

  constructor(
    private readonly store: Store,
    openImage: (relPath: string) => void,
  ) {
    setOptions(
      this.k,
      [5, 10, 20].map((k) => ({ value: String(k), label: String(k) })),
      '5',
    );
    this.run.addEventListener('click', () => this.request());
    this.body.addEventListener('click', (e) => {
      const relPath = (e.target as HTMLElement).closest<HTMLElement>('[data-rel-path]')?.dataset.relPath;
      if (relPath) openImage(relPath);
    });
    this.element = h(
      'section',
      { class: 'card neighbors', 'aria-label': 'Similar images' },
      h('h3', {}, 'Similar images'),
      h('div', { class: 'compare-row' }, h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'How many'), this.k), h('div', { class: 'run-row' }, this.run)),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.run.toggleAttribute('disabled', !s.results.datasetFeatures || !s.selectedImageId || isRunning(s, 'datasetNeighbors'));
    if (s.results.datasetFeatures !== this.shown?.dataset) this.following = undefined;
    if (this.following && s.selectedImageId && s.selectedImageId !== this.following) {
      // Outside this store notification: the request updates the store itself.
      this.following = s.selectedImageId;
      queueMicrotask(() => this.request());
    }
    const last = this.shown;
    if (last && last.neighbors === s.results.datasetNeighbors && last.images === s.images && last.dataset === s.results.datasetFeatures) return;
    this.shown = { neighbors: s.results.datasetNeighbors, images: s.images, dataset: s.results.datasetFeatures };
    this.renderBody(s);
  }

  private request(): void {
    const imageId = this.store.state.selectedImageId;
    if (!imageId) return;
    this.following = imageId;
    this.store.request('datasetNeighbors', { imageId, k: Number(this.k.value) }, 'Finding similar images…');
  }

  private renderBody(s: State): void {
    const n = s.results.datasetNeighbors;
    const d = s.results.datasetFeatures;
    if (!n || !d) return replaceChildren(this.body, h('p', { class: 'muted' }, "The dataset images nearest to the selected image in the network's feature space."));
    const query = s.images.find((i) => i.id === n.imageId);
    replaceChildren(
      this.body,
      h('p', { class: 'small' }, h('strong', {}, query?.name ?? 'the image'), ` (predicted ${n.predictionName}) · ${n.space}`),
      h(
        'ol',
        { class: 'neighbor-list' },
        n.neighbors.map((nb) => {
          const im = d.images[nb.image];
          const differs = nb.predictionName !== n.predictionName || (nb.labelName !== undefined && nb.labelName !== nb.predictionName);
          return h(
            'li',
            {},
            h(
              'button',
              { type: 'button', class: differs ? 'neighbor differs' : 'neighbor', 'data-rel-path': nb.relPath, title: `${nb.relPath}: open in Explain` },
              im?.thumbnail ? h('img', { src: im.thumbnail, alt: '' }) : null,
              h('span', { class: 'neighbor-name' }, nb.relPath),
              h('span', { class: 'neighbor-label' }, `${nb.labelName ?? '–'} → ${nb.predictionName}`),
              h('span', { class: 'muted small' }, nb.distance < 1e-6 ? 'same features' : `distance ${nb.distance.toPrecision(3)}`),
            ),
          );
        }),
      ),
    );
  }
}
