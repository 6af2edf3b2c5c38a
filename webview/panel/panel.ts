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
import { GalleryTab } from './gallery/gallery';
import { GraphTab } from './graph/graph';
import { ImageStrip, acceptDroppedImages } from './images';
import { InsideTab } from './inside/inside';
import { OverviewTab } from './overview';

const TABS = ['Overview', 'Explain', 'Explain all', 'Compare', 'Activations', 'Dataset', 'Inside', 'Graph'] as const;

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
  const panels = [
    overview.element,
    new ExplainTab(store).element,
    // A card opens its image in the Explain tab, explained with the run's settings (the host loads it).
    new GalleryTab(store, () => select(TABS.indexOf('Explain'))).element,
    new CompareTab(store).element,
    activations.element,
    dataset.element,
    new InsideTab(store).element,
    graph.element,
  ];
  TABS.forEach((title, i) => tabs.append(h('vscode-tab-header', { 'data-tab': tabKey(title) }, title), h('vscode-tab-panel', { 'data-panel': tabKey(title) }, panels[i])));
  // The graph is laid out only once its tab is shown: a large model's layout takes seconds.
  const graphShown = () => (tabs.selectedIndex === TABS.indexOf('Graph') ? graph.activate() : graph.deactivate());
  tabs.addEventListener('vsc-tabs-select', () => {
    saveState({ tab: tabs.selectedIndex });
    graphShown();
  });
  wrapTabHeaders(tabs);
  const saved = savedState().tab;
  // A first look opens on Explain: the image and its predictions are the answer users come for.
  tabs.selectedIndex = saved !== undefined && saved >= 0 && saved < TABS.length ? saved : TABS.indexOf('Explain');
  graphShown();
  store.subscribe(followResults(store, select, activations));

  const header = h('header', { class: 'panel-header' });
  store.subscribe(headerRenderer(header));
  replaceChildren(
    root,
    header,
    new StatusView(store).element,
    new ImageStrip(store).element,
    tabs,
    h('div', { class: 'drop-hint', 'aria-hidden': 'true' }, 'Drop files to add them'),
  );
  acceptDroppedImages(store, root);
}

/** A tab's name in data-tab and data-panel: its title in lower case, words joined by '-' ('explain-all'). */
function tabKey(title: string): string {
  return title.toLowerCase().replace(/ /g, '-');
}

function headerRenderer(header: HTMLElement): (s: State) => void {
  let shown: State['model'] | null = null;
  return (s) => {
    if (s.model === shown) return;
    shown = s.model;
    const m = s.model;
    if (!m) return replaceChildren(header, h('h1', {}, 'ConvLens'), h('span', { class: 'muted' }, 'loading the model…'));
    replaceChildren(
      header,
      h('h1', {}, m.name),
      h('span', { class: `badge provider-${m.provider.name}`, title: m.provider.reason }, m.provider.name.toUpperCase()),
      h('span', { class: 'muted' }, `${m.producer} · opset ${m.opset}`),
    );
  };
}

/**
 * The tab follows a result: a new explanation of the selected image (from a lens, a map point, a
 * prediction) opens Explain; a channel linked from another section opens it in Activations.
 */
function followResults(store: Store, select: (index: number) => void, activations: ActivationsTab): (s: State) => void {
  let explanation = store.shownExplanation();
  let focus = store.state.focusChannel;
  return (s) => {
    const shown = store.shownExplanation();
    const newExplanation = shown && shown !== explanation;
    const newFocus = s.focusChannel && s.focusChannel !== focus ? s.focusChannel : undefined;
    // Noted before acting: showing a channel requests activations, which notifies again.
    explanation = shown;
    focus = s.focusChannel;
    // The first explanation (run in the background) does not pull a user who went to another tab back.
    if (newExplanation && !store.inBackground(shown.id)) select(TABS.indexOf('Explain'));
    if (newFocus) {
      select(TABS.indexOf('Activations'));
      activations.showChannel(newFocus.layer, newFocus.channel);
    }
  };
}

/** The tab headers wrap onto a second row in a narrow view instead of running off its edge. */
function wrapTabHeaders(tabs: HTMLElement & { updateComplete?: Promise<unknown> }): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync('.tablist { flex-wrap: wrap; }');
  void customElements
    .whenDefined('vscode-tabs')
    .then(() => tabs.updateComplete)
    .then(() => {
      if (tabs.shadowRoot) tabs.shadowRoot.adoptedStyleSheets = [...tabs.shadowRoot.adoptedStyleSheets, sheet];
    });
}
