// Rules distilled from the network (a depth-limited decision tree on the layer's pooled channels
// that mimics the network's predictions): how faithful they are on held-out images, each rule with
// its coverage and purity, and for every channel a rule tests, the dataset patches where that
// channel fires most with its activation map — so a rule can be read by looking at it. A channel
// is its activation's mean or max over the image (the pooling choice); channels the mark check
// found responding to a planted mark are flagged in the rules.
import type { ChannelExemplarView, MarkCheckView, RuleView, RulesView } from '../../../src/protocol';
import { h, percent, replaceChildren, Select, setOptions } from '../../dom';
import { post } from '../../host';
import { drawMap, drawOverlay, loadImage } from '../../overlay';
import { isRunning, State, Store } from '../../store';

const DEPTHS = [1, 2, 3, 4, 5, 6];
const MIN_LEAVES = [1, 2, 3, 5, 10, 20, 50];
export type Pooling = RulesView['pooling'];
const POOLINGS: { value: Pooling; label: string; description: string }[] = [
  { value: 'mean', label: 'Mean over the image', description: 'how much of the image the feature covers' },
  { value: 'max', label: 'Max over the image', description: 'whether the feature is anywhere (small marks)' },
];

export class RulesSection {
  readonly element: HTMLElement;
  private readonly depth = h('vscode-single-select', { id: 'rules-depth', label: 'Depth' }) as Select;
  private readonly minLeaf = h('vscode-single-select', { id: 'rules-min-leaf', label: 'Images per leaf (at least)' }) as Select;
  private readonly poolingSelect = h('vscode-single-select', { id: 'rules-pooling', label: 'Channel' }) as Select;
  private readonly run = h('vscode-button', { id: 'rules-run' }, 'Distil rules');
  private readonly exportJson = h('vscode-button', { id: 'rules-export-json', secondary: true, onClick: () => post({ type: 'exportRules', format: 'json' }) }, 'Export JSON');
  private readonly exportText = h('vscode-button', { id: 'rules-export-text', secondary: true, onClick: () => post({ type: 'exportRules', format: 'txt' }) }, 'Export text');
  private readonly body = h('div', { class: 'rules-body', 'aria-live': 'polite' });
  private shown?: RulesView;
  private colormap?: State['colormap'];
  private markCheck?: MarkCheckView;

  constructor(private readonly store: Store) {
    setOptions(
      this.depth,
      DEPTHS.map((d) => ({ value: String(d), label: String(d) })),
      '3',
    );
    setOptions(
      this.minLeaf,
      MIN_LEAVES.map((n) => ({ value: String(n), label: String(n) })),
      '5',
    );
    setOptions(this.poolingSelect, POOLINGS, 'mean');
    this.run.addEventListener('click', () => this.distil());
    this.element = h(
      'section',
      { class: 'card rules', 'aria-label': 'Distilled rules' },
      h('h3', {}, 'Rules the network follows'),
      h(
        'p',
        { class: 'muted small' },
        "A decision tree on the layer's channels (each the mean or the max of its activation over the image), trained to predict what the network predicts; fidelity is how often it agrees with the network on images it was not trained on.",
      ),
      h(
        'div',
        { class: 'compare-row' },
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Channel'), this.poolingSelect),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Depth'), this.depth),
        h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Images per leaf (at least)'), this.minLeaf),
        h('div', { class: 'run-row' }, this.run, this.exportJson, this.exportText),
      ),
      this.body,
    );
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    this.run.toggleAttribute('disabled', !s.results.datasetFeatures || isRunning(s, 'datasetRules'));
    for (const b of [this.exportJson, this.exportText]) b.toggleAttribute('disabled', !s.results.datasetRules);
    if (s.results.datasetRules === this.shown && s.colormap === this.colormap && s.results.datasetMarkCheck === this.markCheck) return;
    this.shown = s.results.datasetRules;
    this.colormap = s.colormap;
    this.markCheck = s.results.datasetMarkCheck;
    const r = s.results.datasetRules;
    if (!r) return replaceChildren(this.body, h('p', { class: 'muted' }, 'Press Distil rules to see them.'));
    const exemplars = new Map(r.channels.map((c) => [c.channel, c]));
    const markChannels = new Set(s.results.datasetMarkCheck?.markChannels);
    replaceChildren(
      this.body,
      scores(r),
      h(
        'ol',
        { class: 'rule-list' },
        r.rules.map((rule, i) => this.rule(rule, i, exemplars, markChannels)),
      ),
    );
  }

  /** The channel summary the rules (and the mark check) use. */
  pooling(): Pooling {
    return this.poolingSelect.value === 'max' ? 'max' : 'mean';
  }

  private distil(): void {
    this.store.request('datasetRules', { depth: Number(this.depth.value), minLeaf: Number(this.minLeaf.value), pooling: this.pooling() }, 'Distilling rules…');
  }

  private rule(rule: RuleView, index: number, exemplars: Map<number, ChannelExemplarView>, markChannels: Set<number>): HTMLElement {
    const testAgree = rule.test.images ? `${rule.test.agree}/${rule.test.images} held out agree` : 'no held-out image';
    return h(
      'li',
      { class: 'rule', 'data-rule': index },
      h(
        'div',
        { class: 'rule-head' },
        h('code', { class: 'rule-text' }, rule.text),
        h(
          'span',
          { class: 'rule-stats' },
          h('span', { class: 'chip', title: 'Share of all images the rule covers' }, `coverage ${percent(rule.coverage)}`),
          h(
            'span',
            { class: rule.purity < 0.8 ? 'chip warning' : 'chip', title: "Share of the covered images the network assigns to the rule's class" },
            `purity ${percent(rule.purity)}`,
          ),
          h('span', { class: 'chip muted' }, testAgree),
        ),
      ),
      h(
        'div',
        { class: 'conditions' },
        rule.conditions.map((c) => {
          const e = exemplars.get(c.channel);
          const mark = markChannels.has(c.channel);
          return h(
            'div',
            { class: mark ? 'condition mark' : 'condition', 'data-channel': c.channel },
            h(
              'span',
              { class: 'condition-text' },
              h(
                'button',
                {
                  type: 'button',
                  class: 'link channel-link',
                  'data-channel': c.channel,
                  title: `Show channel ${c.channel} in Activations and Feature visualisation`,
                  onClick: () => this.focus(c.channel),
                },
                `channel ${c.channel}`,
              ),
              ` ${c.op === '<=' ? '≤' : '>'} ${c.threshold.toPrecision(3)}`,
              mark ? h('span', { class: 'chip mark-chip', title: 'The mark check found this channel responding to the planted mark' }, 'mark') : null,
            ),
            e ? this.exemplarStrip(e) : null,
          );
        }),
      ),
    );
  }

  /** Links a rule's channel to the same channel in the other sections. */
  private focus(channel: number): void {
    const layer = this.store.state.results.datasetFeatures?.layer;
    if (layer) this.store.update({ focusChannel: { layer, channel } });
  }

  /**
   * The channel's top patches, then one patch's image with its receptive field boxed and the
   * channel's activation map on that image (the first patch's; hovering or focusing another shows its).
   */
  private exemplarStrip(e: ChannelExemplarView): HTMLElement {
    const image = h('canvas', { class: 'patch-image', role: 'img', 'aria-label': `The image of channel ${e.channel}'s patch, the patch boxed` });
    const map = h('canvas', { class: 'patch-map', role: 'img', 'aria-label': `Channel ${e.channel}'s activation on that image` });
    const show = (i: number) => void this.drawPatch(image, map, e, i);
    show(0);
    const patches = e.patches.map((p, i) =>
      h('img', {
        class: 'patch',
        src: p.crop,
        alt: `patch of ${p.relPath}`,
        tabindex: 0,
        title: `${p.relPath} (${p.labelName ?? 'no label'}, predicted ${p.predictionName}): peak ${p.activation.toPrecision(3)}`,
        onMouseenter: () => show(i),
        onFocus: () => show(i),
      }),
    );
    return h(
      'div',
      { class: 'exemplars' },
      h('div', { class: 'patches', role: 'group', 'aria-label': `Where channel ${e.channel} fires most` }, patches),
      h('span', { class: 'patch-pair' }, image, map),
      e.fieldProblem ? h('span', { class: 'muted small' }, `whole images: ${e.fieldProblem}`) : null,
    );
  }

  private async drawPatch(imageCanvas: HTMLCanvasElement, mapCanvas: HTMLCanvasElement, e: ChannelExemplarView, i: number): Promise<void> {
    const p = e.patches[i];
    const inputSize = this.store.state.results.datasetFeatures?.inputSize;
    const image = await loadImage(p.image).catch(() => undefined);
    drawOverlay(imageCanvas, image, undefined, { colormap: this.store.state.colormap, opacity: 0, minSide: 96 });
    if (inputSize) {
      const [height, width] = inputSize;
      const [x0, y0, x1, y1] = p.box;
      const ctx = imageCanvas.getContext('2d')!;
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.strokeRect(
        (x0 * imageCanvas.width) / width + 1,
        (y0 * imageCanvas.height) / height + 1,
        ((x1 - x0) * imageCanvas.width) / width - 2,
        ((y1 - y0) * imageCanvas.height) / height - 2,
      );
    }
    drawMap(mapCanvas, p.map, this.store.state.colormap);
    mapCanvas.dataset.patch = String(i);
  }
}

function scores(r: RulesView): HTMLElement {
  const items: [string, string][] = [
    ['Fidelity (held out)', `${percent(r.fidelity.test)} of ${r.testImages} images`],
    ['Fidelity (training)', `${percent(r.fidelity.train)} of ${r.trainImages} images`],
  ];
  if (r.accuracy) items.push(['Accuracy on folder labels (held out)', `rules ${percent(r.accuracy.tree)} · network ${percent(r.accuracy.network)}`]);
  items.push(['Channel', `${r.pooling} of its activation over the image`]);
  items.push(['Tree', `depth ≤ ${r.depth}, ≥ ${r.minLeaf} images a leaf, ${r.rules.length} rules, ${r.channels.length} channels`]);
  return h(
    'dl',
    { class: 'info rule-scores' },
    items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}
