// The model overview: what the model is (name, producer, opset, parameters, provider,
// preprocessing), its inputs and outputs, an op-count histogram, and the layer list (filterable,
// arrow keys move between rows, "go to code" opens the training code that defined a layer).
import type { LayerView, ModelView, TensorSummary } from '../../src/protocol';
import { formatCount, formatShape, h, initRoving, replaceChildren, rovingFocus } from '../dom';
import { post } from '../host';
import { Store } from '../store';

export class OverviewTab {
  readonly element = h('div', { class: 'overview' });
  private readonly layerRows = h('tbody');
  private readonly layerCount = h('span', { class: 'muted', 'aria-live': 'polite' });
  private model?: ModelView;
  private filter = '';

  constructor(
    store: Store,
    private readonly onShowActivations: (layer: string) => void,
  ) {
    store.subscribe((s) => {
      if (s.model === this.model) return;
      this.model = s.model;
      this.render();
    });
  }

  private render(): void {
    const m = this.model;
    if (!m) return replaceChildren(this.element, h('div', { class: 'loading' }, h('vscode-progress-ring'), 'Loading the model…'));
    const filterField = h('vscode-textfield', { id: 'layer-filter', placeholder: 'Filter by name, op or shape', 'aria-label': 'Filter layers', value: this.filter });
    filterField.addEventListener('input', () => {
      this.filter = (filterField as HTMLElement & { value: string }).value;
      this.renderLayers();
    });
    const table = h(
      'table',
      { class: 'layers reflow', 'aria-label': 'Layers' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Layer'), h('th', {}, 'Op'), h('th', {}, 'Output shape'), h('th', {}, ''))),
      this.layerRows,
    );
    rovingFocus(this.layerRows, 'tr', { horizontal: false });
    replaceChildren(
      this.element,
      h('section', { class: 'card model-info', 'aria-label': 'Model' }, h('h3', {}, 'Model'), infoList(m)),
      h(
        'div',
        { class: 'columns' },
        h('section', { class: 'card', 'aria-label': 'Inputs and outputs' }, h('h3', {}, 'Inputs and outputs'), ioTable(m.inputs, m.outputs)),
        h('section', { class: 'card', 'aria-label': 'Operators' }, h('h3', {}, 'Operators'), histogram(m.opHistogram)),
      ),
      h(
        'section',
        { class: 'card', 'aria-label': 'Layer list' },
        h('div', { class: 'layers-head' }, h('h3', {}, 'Layers'), this.layerCount, filterField),
        h('div', { class: 'table-scroll' }, table),
      ),
    );
    this.renderLayers();
  }

  private renderLayers(): void {
    const layers = this.model?.layers ?? [];
    const words = this.filter.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = layers.map((layer, i) => ({ layer, i })).filter(({ layer }) => words.every((w) => layerText(layer).includes(w)));
    const rows = shown.map(({ layer, i }) => this.row(layer, i));
    replaceChildren(this.layerRows, rows.length ? rows : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No layer matches the filter.')));
    initRoving(rows);
    this.layerCount.textContent = shown.length === layers.length ? `${layers.length}` : `${shown.length} of ${layers.length}`;
  }

  private row(layer: LayerView, index: number): HTMLTableRowElement {
    const openSource = () => post({ type: 'openSource', layer: layer.name });
    const actions: HTMLElement[] = [];
    if (layer.hasSource)
      actions.push(
        h(
          'a',
          {
            href: '#',
            class: 'link',
            tabindex: -1,
            onClick: (e) => {
              e.preventDefault();
              openSource();
            },
          },
          'go to code',
        ),
      );
    if (layer.shape?.length === 4)
      actions.push(
        h(
          'a',
          {
            href: '#',
            class: 'link',
            tabindex: -1,
            onClick: (e) => {
              e.preventDefault();
              this.onShowActivations(layer.name);
            },
          },
          'activations',
        ),
      );
    return h(
      'tr',
      {
        'data-layer': layer.name,
        title: layer.hasSource ? "Enter: go to code; Right arrow: the row's links" : undefined,
        onKeydown: (e) => rowKeys(e as KeyboardEvent, layer.hasSource ? openSource : undefined),
      },
      h('td', { class: 'num', 'data-label': '#' }, index + 1),
      h('td', { class: 'layer-name' }, layer.scope ?? layer.name, layer.scope ? h('span', { class: 'muted small' }, ` ${layer.name}`) : null),
      h('td', { 'data-label': 'Op' }, h('span', { class: 'op' }, layer.opType)),
      h('td', { class: 'mono', 'data-label': 'Output shape' }, formatShape(layer.shape)),
      h('td', { class: 'actions' }, actions),
    );
  }
}

/** Enter on a row opens its code; Left/Right move between the row and its links (grid-style cells). */
function rowKeys(event: KeyboardEvent, openSource: (() => void) | undefined): void {
  const row = (event.target as HTMLElement).closest('tr')!;
  const stops = [row, ...row.querySelectorAll<HTMLElement>('a.link')];
  const at = stops.indexOf(event.target as HTMLElement);
  if (event.key === 'Enter' && event.target === row && openSource) {
    event.preventDefault();
    openSource();
  } else if ((event.key === 'ArrowRight' || event.key === 'ArrowLeft') && at >= 0) {
    const next = stops[at + (event.key === 'ArrowRight' ? 1 : -1)];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }
}

function layerText(layer: LayerView): string {
  return `${layer.name} ${layer.scope ?? ''} ${layer.opType} ${formatShape(layer.shape)}`.toLowerCase();
}

function infoList(m: ModelView): HTMLElement {
  const provider = h(
    'span',
    {},
    h('span', { class: `badge provider-${m.provider.name}` }, m.provider.name.toUpperCase()),
    ' ',
    h('span', { class: 'muted' }, `${m.provider.threads} threads per op; ${m.provider.reason}`),
  );
  const items: [string, Node | string][] = [
    ['Producer', m.producer],
    ['Opset', String(m.opset)],
    ['Parameters', `${formatCount(m.parameterCount)} (${m.parameterCount.toLocaleString('en-US')})`],
    ['Provider', provider],
    ['Preprocessing', h('span', {}, m.preprocessing.description, h('span', { class: 'muted' }, ` (${m.preprocessing.source})`))],
    ['File', h('span', { class: 'mono small' }, m.path)],
  ];
  if (m.defaultCamLayer) items.push(['CAM layer (auto)', h('span', { class: 'mono' }, m.defaultCamLayer)]);
  if (m.gradientProblem) items.push(['Gradients', h('span', { class: 'warning' }, m.gradientProblem)]);
  return h(
    'dl',
    { class: 'info' },
    items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function ioTable(inputs: TensorSummary[], outputs: TensorSummary[]): HTMLElement {
  const rows = [...inputs.map((t) => ['input', t] as const), ...outputs.map((t) => ['output', t] as const)];
  return h(
    'table',
    { class: 'io reflow' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', {}, 'Shape'))),
    h(
      'tbody',
      {},
      rows.map(([kind, t]) =>
        h(
          'tr',
          {},
          h('td', { class: 'muted' }, kind),
          h('td', { class: 'mono', 'data-label': 'Name' }, t.name),
          h('td', { 'data-label': 'Type' }, t.dtype),
          h('td', { class: 'mono', 'data-label': 'Shape' }, formatShape(t.shape)),
        ),
      ),
    ),
  );
}

function histogram(ops: Record<string, number>): HTMLElement {
  const entries = Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return h(
    'div',
    { class: 'histogram', role: 'list' },
    entries.map(([op, n]) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${(100 * n) / max}%`;
      return h(
        'div',
        { class: 'hist-row', role: 'listitem', 'aria-label': `${op}: ${n}` },
        h('span', { class: 'hist-op' }, op),
        h('span', { class: 'bar-track' }, bar),
        h('span', { class: 'num' }, n),
      );
    }),
  );
}
