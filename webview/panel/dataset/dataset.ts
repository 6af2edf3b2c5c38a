// The Dataset tab: choose a folder of images (one sub-folder per class, as torchvision's
// ImageFolder) and a layer, extract the features of every image (cached by the host), then read
// what the network does on the whole dataset: the summary against the folder labels, rules
// distilled from the layer's channels, whether they read a mark planted in some images, the
// feature-space map, the images most like the selected one, and which channels matter for a class.
import type { DatasetView } from '../../../src/protocol';
import { formatShape, h, percent, replaceChildren, Select, setOptions } from '../../dom';
import { post } from '../../host';
import { datasetLayerOptions, layerLabel } from '../../pickers';
import { isRunning, State, Store } from '../../store';
import { ErrorAnalysisSection, SliceSection } from './errors';
import { FeatureMapSection } from './feature-map';
import { ImportanceSection } from './importance';
import { MarkCheckSection } from './marks';
import { NeighborsSection } from './neighbors';
import { ChannelPositionsSection } from './positions';
import { RulesSection } from './rules';

/** Most confident mistakes shown in the summary. */
const SHOWN_MISTAKES = 8;

export class DatasetTab {
  readonly element: HTMLElement;
  private readonly folder = h('vscode-single-select', { id: 'dataset-folder', label: 'Dataset folder' }) as Select;
  private readonly layer = h('vscode-single-select', { id: 'dataset-layer', label: 'Layer' }) as Select;
  private readonly run = h('vscode-button', { id: 'dataset-run' }, 'Extract features');
  private readonly summary = h('section', { class: 'card dataset-summary', 'aria-label': 'Dataset summary', hidden: true });
  private readonly empty = h('p', { class: 'empty-state' });
  private readonly results: HTMLElement;
  private shown?: { model: State['model']; folders: State['datasetFolders']; chosen?: string; dataset?: DatasetView };

  constructor(
    private readonly store: Store,
    openImage: (relPath: string) => void,
  ) {
    const pick = h('vscode-button', { id: 'dataset-pick', secondary: true, onClick: () => post({ type: 'pickDataset' }) }, 'Choose folder…');
    this.run.addEventListener('click', () => this.extract());
    const controls = h(
      'section',
      { class: 'card controls', 'aria-label': 'Dataset' },
      h('h3', {}, 'Dataset'),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field wide' }, h('span', { class: 'field-label' }, 'Folder (one sub-folder per class)'), this.folder),
        h('div', { class: 'run-row' }, pick),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Layer'), this.layer),
        h('div', { class: 'run-row' }, this.run),
      ),
    );
    const rules = new RulesSection(store);
    const marks = new MarkCheckSection(store, () => rules.pooling(), openImage);
    const slices = new SliceSection(store, openImage);
    const map = new FeatureMapSection(store, openImage, (images, title) => slices.show({ images }, title));
    const errors = new ErrorAnalysisSection(store, slices, (images) => map.choose(images));
    const positions = new ChannelPositionsSection(store, (channel) => map.colourByChannel(channel));
    const neighbors = new NeighborsSection(store, openImage);
    const importance = new ImportanceSection(store);
    this.results = h(
      'div',
      { class: 'dataset-results', hidden: true },
      h('div', { class: 'columns' }, this.summary, neighbors.element),
      rules.element,
      positions.element,
      marks.element,
      h('div', { class: 'columns' }, map.element, errors.element),
      slices.element,
      importance.element,
    );
    this.summary.addEventListener('click', (e) => {
      const relPath = (e.target as HTMLElement).closest<HTMLElement>('[data-rel-path]')?.dataset.relPath;
      if (relPath) openImage(relPath);
    });
    this.element = h('div', { class: 'dataset' }, controls, this.empty, this.results);
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    const last = this.shown;
    if (last?.model !== s.model) {
      const { options, preferred } = datasetLayerOptions(s);
      setOptions(this.layer, options, preferred);
      this.layer.title = options.length ? '' : 'The model has no spatial layer [N, C, H, W] to pool';
    }
    if (last?.folders !== s.datasetFolders || last?.chosen !== s.chosenDatasetFolder) {
      const options = s.datasetFolders.map((f) => ({ value: f.path, label: f.label, description: f.images === undefined ? '' : `${f.images} images` }));
      setOptions(this.folder, options, s.chosenDatasetFolder);
    }
    this.run.toggleAttribute('disabled', !s.model || !this.layer.value || s.datasetFolders.length === 0 || isRunning(s, 'datasetFeatures'));
    if (last?.dataset !== s.results.datasetFeatures) this.renderDataset(s.results.datasetFeatures);
    this.shown = { model: s.model, folders: s.datasetFolders, chosen: s.chosenDatasetFolder, dataset: s.results.datasetFeatures };
    if (!s.results.datasetFeatures) {
      replaceChildren(
        this.empty,
        s.datasetFolders.length
          ? 'Choose a folder and a layer, then Extract features: every image is run once (cached for next time), and the rules, the feature map, similar images and channel importance work from those features.'
          : 'No folder of the workspace holds images in class sub-folders (folder/<class>/<image>.png). Choose a dataset folder with "Choose folder…".',
      );
    }
  }

  private extract(): void {
    const folder = this.folder.value;
    const layer = this.layer.value;
    if (!folder || !layer) return;
    this.store.request('datasetFeatures', { folder, layer }, 'Extracting features…');
  }

  private renderDataset(d: DatasetView | undefined): void {
    this.results.hidden = !d;
    this.empty.hidden = !!d;
    this.summary.hidden = !d;
    if (!d) return replaceChildren(this.summary);
    const labelled = d.images.length - d.unlabelled;
    const mistakes = d.images.filter((im) => im.label !== undefined && im.label !== im.prediction).sort((a, b) => b.confidence - a.confidence);
    const cache =
      d.cache.cached === d.images.length
        ? 'all read from the cache'
        : `${d.cache.computed} computed${d.cache.cached ? `, ${d.cache.cached} from the cache` : ''}${d.cache.stored ? ' (cached for next time)' : ''}`;
    replaceChildren(
      this.summary,
      h('h3', {}, 'Summary'),
      h(
        'p',
        { class: 'summary-line' },
        h('strong', {}, `${d.images.length} images`),
        ` · ${d.classNames.length} classes · `,
        d.accuracy === undefined ? 'no folder labels' : h('span', {}, 'accuracy ', h('strong', { class: 'accuracy' }, percent(d.accuracy)), ` on ${labelled} labelled`),
        d.unlabelled ? h('span', { class: 'warning' }, ` · ${d.unlabelled} without a class folder`) : null,
      ),
      h('p', { class: 'muted small' }, `Layer ${layerLabel(this.store.state.model, d.layer)} ${formatShape(d.layerShape)} · features ${cache}.`),
      classTable(d),
      mistakes.length ? h('h4', {}, `Misclassified (${mistakes.length}), most confident first`) : h('p', {}, 'Every labelled image is predicted as its folder label.'),
      mistakes.length
        ? h(
            'div',
            { class: 'mistakes' },
            mistakes.slice(0, SHOWN_MISTAKES).map((im) =>
              h(
                'button',
                {
                  type: 'button',
                  class: 'mini-thumb',
                  'data-rel-path': im.relPath,
                  title: `${im.relPath}: ${im.labelName} predicted ${d.classNames[im.prediction]} (${percent(im.confidence, 0)}); open in Explain`,
                },
                im.thumbnail ? h('img', { src: im.thumbnail, alt: '' }) : null,
                h('span', { class: 'mini-caption' }, `${im.labelName} → ${d.classNames[im.prediction]}`),
              ),
            ),
          )
        : null,
      d.skipped.length
        ? h(
            'p',
            { class: 'warning small' },
            `${d.skipped.length} image(s) could not be read: ${d.skipped
              .slice(0, 3)
              .map((k) => `${k.relPath} (${k.reason})`)
              .join('; ')}`,
          )
        : null,
    );
  }
}

function classTable(d: DatasetView): HTMLElement {
  const header = h(
    'tr',
    {},
    h('th', {}, 'Class'),
    h('th', { class: 'num' }, 'Images'),
    h('th', { class: 'num' }, 'Predicted'),
    h('th', { class: 'num' }, 'Correct'),
    h('th', { class: 'num' }, 'Recall'),
  );
  const rows = d.classes.map((c) =>
    h(
      'tr',
      { 'data-class': c.name },
      h('td', {}, c.name),
      h('td', { class: 'num' }, c.labelled),
      h('td', { class: 'num' }, c.predicted),
      h('td', { class: 'num' }, c.correct),
      h('td', { class: 'num' }, c.labelled ? percent(c.correct / c.labelled, 0) : '–'),
    ),
  );
  return h('table', { class: 'class-table', 'aria-label': 'Per class' }, h('thead', {}, header), h('tbody', {}, rows));
}
