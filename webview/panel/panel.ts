// The model panel: a header naming the model, the status strip (progress, errors), the input
// chooser, and tabs for the overview, explanations, comparisons and activations.
import { h, replaceChildren } from '../dom';
import { post, saveState, savedState } from '../host';
import { StatusView } from '../status';
import { State, Store } from '../store';
import { ActivationsTab } from './activations';
import { CompareTab } from './compare';
import { DatasetTab } from './dataset/dataset';
import { ExplainTab } from './explain';
import { GraphTab } from './graph/graph';
import { ImageStrip, acceptDroppedImages } from './images';
import { InsideTab } from './inside/inside';
import { OverviewTab } from './overview';

const TABS = ['Overview', 'Explain', 'Compare', 'Activations', 'Dataset', 'Inside', 'Graph'] as const;

export function mountPanel(root: HTMLElement, store: Store): void {
  const tabs = h('vscode-tabs', { id: 'tabs' }) as HTMLElement & { selectedIndex: number };
  const select = (index: number) => {
    tabs.selectedIndex = index;
    saveState({ tab: index });
  };
  const activations = new ActivationsTab(store);
  const overview = new OverviewTab(store, (layer) => {
    select(TABS.indexOf('Activations'));
    activations.showLayer(layer);
  });
  // A dataset image chosen in the Dataset tab is loaded by the host and explained in the Explain tab.
  const dataset = new DatasetTab(store, (relPath) => {
    post({ type: 'datasetOpenImage', relPath });
    select(TABS.indexOf('Explain'));
  });
  const graph = new GraphTab(store, (layer) => {
    select(TABS.indexOf('Activations'));
    activations.showLayer(layer);
  });
  const panels = [overview.element, new ExplainTab(store).element, new CompareTab(store).element, activations.element, dataset.element, new InsideTab(store).element, graph.element];
  TABS.forEach((title, i) => tabs.append(h('vscode-tab-header', { 'data-tab': title.toLowerCase() }, title), h('vscode-tab-panel', { 'data-panel': title.toLowerCase() }, panels[i])));
  // The graph is laid out only once its tab is shown: a large model's layout takes seconds.
  const graphShown = () => (tabs.selectedIndex === TABS.indexOf('Graph') ? graph.activate() : graph.deactivate());
  tabs.addEventListener('vsc-tabs-select', () => {
    saveState({ tab: tabs.selectedIndex });
    graphShown();
  });
  const saved = savedState().tab;
  tabs.selectedIndex = saved !== undefined && saved >= 0 && saved < TABS.length ? saved : 0;
  graphShown();

  const header = h('header', { class: 'panel-header' });
  store.subscribe(headerRenderer(header));
  replaceChildren(root, header, new StatusView(store).element, new ImageStrip(store).element, tabs, h('div', { class: 'drop-hint', 'aria-hidden': 'true' }, 'Drop images to add them'));
  acceptDroppedImages(store, root);
}

function headerRenderer(header: HTMLElement): (s: State) => void {
  let shown: State['model'] | null = null;
  return (s) => {
    if (s.model === shown) return;
    shown = s.model;
    const m = s.model;
    if (!m) return replaceChildren(header, h('h1', {}, 'ConvLens'), h('span', { class: 'muted' }, 'loading the model…'));
    replaceChildren(header,
      h('h1', {}, m.name),
      h('span', { class: `badge provider-${m.provider.name}`, title: m.provider.reason }, m.provider.name.toUpperCase()),
      h('span', { class: 'muted' }, `${m.producer} · opset ${m.opset}`));
  };
}
