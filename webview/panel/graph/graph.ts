// The Graph tab: the model's graph as the compute worker laid it out (ELK, src/core/graph/layout.ts),
// drawn on a canvas with pan (drag, arrow keys) and zoom (wheel, +/−), only the nodes and edges in
// view drawn (nodes found by binary search on their rows), details dropped when zoomed far out.
// Each node shows its op, name and probed shape; with an image, its activation statistics, a
// thumbnail of its mean activation and its dead or saturated channels. Clicking a node makes it the
// selected layer of the store and shows its details, with "Go to code" when its source was found.
import type { GraphNodeView, GraphView, LayerView } from '../../../src/protocol';
import { adoptStyles, formatShape, h, percent, replaceChildren } from '../../dom';
import { post } from '../../host';
import { State, Store, isRunning } from '../../store';
import css from './graph.css';

const MIN_SCALE = 0.02;
const MAX_SCALE = 3;
/** Below this zoom nodes are drawn as plain boxes: their text would be unreadable. */
const TEXT_SCALE = 0.35;
const PAN_STEP = 80;

const OP_COLORS: [RegExp, string][] = [
  [/^(Conv|ConvTranspose|Gemm|MatMul)$/, '#3d7bd9'],
  [/^(Relu|LeakyRelu|PRelu|Sigmoid|Tanh|HardSigmoid|HardSwish|Clip|Elu|Selu|Gelu|Softmax|Mish)$/, '#c2473a'],
  [/Pool$/, '#3a9a5b'],
  [/Normalization$/, '#8a56c2'],
  [/^(Add|Mul|Sub|Div|Concat|Sum)$/, '#c98a1c'],
  [/^Input$/, '#5a5a5a'],
];

function opColor(op: string): string {
  return OP_COLORS.find(([pattern]) => pattern.test(op))?.[1] ?? '#6b7785';
}

export class GraphTab {
  readonly element: HTMLElement;
  private readonly canvas = h('canvas', { id: 'graph-canvas' });
  private readonly viewport = h(
    'div',
    { class: 'graph-viewport', tabindex: 0, role: 'application', 'aria-label': 'Model graph: drag or arrow keys pan, wheel or + and − zoom, click a node to select it' },
    this.canvas,
  );
  private readonly summary = h('span', { class: 'muted', 'aria-live': 'polite' });
  private readonly fit = h('vscode-button', { id: 'graph-fit', secondary: true }, 'Fit');
  private readonly detail = h('section', { class: 'card graph-detail', 'aria-label': 'Selected node', 'aria-live': 'polite' });
  private graph?: GraphView;
  /** Node indices sorted by top edge, and those tops, for finding the nodes in view. */
  private byTop: number[] = [];
  private tops: number[] = [];
  private tallest = 0;
  private edgeBoxes: Float64Array = new Float64Array(0);
  private view = { scale: 1, x: 0, y: 0 };
  private selected?: number;
  private active = false;
  private shownModel?: State['model'];
  private readonly thumbnails = new Map<string, HTMLImageElement>();
  private frame = 0;

  constructor(
    private readonly store: Store,
    private readonly onShowActivations: (layer: string) => void,
  ) {
    adoptStyles(css);
    this.element = h('div', { class: 'graph' }, h('div', { class: 'graph-toolbar' }, this.fit, this.summary), h('div', { class: 'graph-body' }, this.viewport, this.detail));
    this.fit.addEventListener('click', () => this.fitView());
    this.listen();
    new ResizeObserver(() => this.draw()).observe(this.viewport);
    store.subscribe((s) => this.render(s));
  }

  /** The tab was shown: asks for the graph (with the selected image's statistics) if it has not got it. */
  activate(): void {
    this.active = true;
    this.requestIfNeeded(this.store.state);
    this.draw();
  }

  deactivate(): void {
    this.active = false;
  }

  private requestIfNeeded(s: State): void {
    if (!this.active || !s.model || isRunning(s, 'graph')) return;
    const g = s.results.graph;
    if (g && g.imageId === s.selectedImageId) return;
    const imageId = s.selectedImageId;
    this.store.request('graph', imageId ? { imageId } : {}, imageId ? 'Graph with activations…' : 'Laying out the graph…');
  }

  private render(s: State): void {
    if (s.model !== this.shownModel) {
      this.shownModel = s.model;
      this.selected = undefined;
    }
    if (s.results.graph !== this.graph) this.setGraph(s.results.graph);
    const wanted = s.model?.layers.find((l) => l.name === s.selectedLayer);
    const index = wanted && this.graph ? this.graph.nodes.findIndex((n) => n.name === wanted.name) : -1;
    if (index >= 0 && index !== this.selected) this.select(index, false);
    this.requestIfNeeded(s);
  }

  private setGraph(graph: GraphView | undefined): void {
    const first = !this.graph || !graph || this.graph.nodes.length !== graph.nodes.length;
    this.graph = graph;
    this.thumbnails.clear();
    if (!graph) {
      replaceChildren(this.summary, this.store.state.model ? 'Open this tab to lay out the graph.' : '');
      return this.draw();
    }
    this.byTop = graph.nodes.map((_, i) => i).sort((a, b) => graph.nodes[a].y - graph.nodes[a].height / 2 - (graph.nodes[b].y - graph.nodes[b].height / 2));
    this.tops = this.byTop.map((i) => graph.nodes[i].y - graph.nodes[i].height / 2);
    this.tallest = Math.max(0, ...graph.nodes.map((n) => n.height));
    this.edgeBoxes = new Float64Array(graph.edges.length * 4);
    graph.edges.forEach((e, k) => {
      let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      for (let p = 0; p < e.points.length; p += 2) {
        x0 = Math.min(x0, e.points[p]);
        x1 = Math.max(x1, e.points[p]);
        y0 = Math.min(y0, e.points[p + 1]);
        y1 = Math.max(y1, e.points[p + 1]);
      }
      this.edgeBoxes.set([x0, y0, x1, y1], k * 4);
    });
    const withStats = graph.nodes.filter((n) => n.stats).length;
    const image = this.store.state.images.find((i) => i.id === graph.imageId);
    replaceChildren(
      this.summary,
      `${graph.nodes.length.toLocaleString('en-US')} nodes, ${graph.edges.length.toLocaleString('en-US')} edges`,
      image ? ` · activations of ${image.name} on ${withStats.toLocaleString('en-US')} nodes` : ' · choose an image for activations',
      ...graph.notes.map((note) => ` · ${note}`),
    );
    if (first) this.fitView();
    this.renderDetail();
  }

  /** Shows the whole graph when its text stays readable, else fills the width (at most 1:1) from the top. */
  private fitView(): void {
    const g = this.graph;
    const width = this.viewport.clientWidth || 800;
    const height = this.viewport.clientHeight || 600;
    if (!g) return;
    const toWidth = (width - 20) / Math.max(1, g.width);
    const toHeight = (height - 20) / Math.max(1, g.height);
    const scale = Math.max(MIN_SCALE, Math.min(1, toWidth, toHeight >= TEXT_SCALE ? toHeight : Infinity));
    this.view = { scale, x: (width - g.width * scale) / 2, y: 10 };
    // A graph shown whole is centred on the node nearest its middle (so the view's centre is on a node);
    // a taller one keeps its top in view, centred across on the node nearest the top middle.
    const whole = g.height * scale <= height - 20;
    const [cx, cy] = [(width / 2 - this.view.x) / scale, whole ? (height / 2 - this.view.y) / scale : 0];
    const nearest = g.nodes.reduce((best, n) => (Math.hypot(n.x - cx, n.y - cy) < Math.hypot(best.x - cx, best.y - cy) ? n : best), g.nodes[0]);
    if (nearest) this.view = { scale, x: width / 2 - nearest.x * scale, y: whole ? height / 2 - nearest.y * scale : 10 };
    this.draw();
  }

  private listen(): void {
    let drag: { x: number; y: number; moved: boolean } | undefined;
    this.viewport.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: false };
      this.viewport.setPointerCapture(e.pointerId);
    });
    this.viewport.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      drag.moved = true;
      this.viewport.classList.add('dragging');
      this.view.x += dx;
      this.view.y += dy;
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.draw();
    });
    this.viewport.addEventListener('pointerup', (e) => {
      const wasClick = drag && !drag.moved;
      drag = undefined;
      this.viewport.classList.remove('dragging');
      if (!wasClick) return;
      const box = this.viewport.getBoundingClientRect();
      const hit = this.nodeAt(e.clientX - box.left, e.clientY - box.top);
      if (hit !== undefined) this.select(hit, true);
    });
    this.viewport.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const box = this.viewport.getBoundingClientRect();
        this.zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
      },
      { passive: false },
    );
    this.viewport.addEventListener('keydown', (e) => {
      const moves: Record<string, [number, number]> = { ArrowLeft: [PAN_STEP, 0], ArrowRight: [-PAN_STEP, 0], ArrowUp: [0, PAN_STEP], ArrowDown: [0, -PAN_STEP] };
      if (moves[e.key]) {
        this.view.x += moves[e.key][0];
        this.view.y += moves[e.key][1];
        this.draw();
      } else if (e.key === '+' || e.key === '=') {
        this.zoom(1.25, this.viewport.clientWidth / 2, this.viewport.clientHeight / 2);
      } else if (e.key === '-') {
        this.zoom(0.8, this.viewport.clientWidth / 2, this.viewport.clientHeight / 2);
      } else {
        return;
      }
      e.preventDefault();
    });
  }

  /** Zooms by `factor` keeping the layout point under (px, py) in place. */
  private zoom(factor: number, px: number, py: number): void {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.view.scale * factor));
    const k = scale / this.view.scale;
    this.view = { scale, x: px - (px - this.view.x) * k, y: py - (py - this.view.y) * k };
    this.draw();
  }

  /** Indices of the nodes whose boxes meet the layout rectangle [x0, x1] × [y0, y1]. */
  private nodesIn(x0: number, y0: number, x1: number, y1: number): number[] {
    const g = this.graph;
    if (!g) return [];
    // First node whose top is at or below y0 − tallest: any node above it ends before y0.
    let lo = 0;
    let hi = this.tops.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tops[mid] < y0 - this.tallest) lo = mid + 1;
      else hi = mid;
    }
    const found: number[] = [];
    for (let k = lo; k < this.tops.length && this.tops[k] <= y1; k++) {
      const n = g.nodes[this.byTop[k]];
      if (n.x + n.width / 2 >= x0 && n.x - n.width / 2 <= x1 && n.y + n.height / 2 >= y0) found.push(this.byTop[k]);
    }
    return found;
  }

  private nodeAt(px: number, py: number): number | undefined {
    const { scale, x, y } = this.view;
    const lx = (px - x) / scale;
    const ly = (py - y) / scale;
    return this.nodesIn(lx, ly, lx, ly)[0];
  }

  private draw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  private paint(): void {
    const width = this.viewport.clientWidth;
    const height = this.viewport.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * ratio) || this.canvas.height !== Math.round(height * ratio)) {
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext('2d');
    const g = this.graph;
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const { scale, x, y } = this.view;
    this.canvas.dataset.transform = `${scale} ${x} ${y}`;
    if (!g) {
      this.canvas.dataset.visibleNodes = '0';
      return;
    }
    const style = getComputedStyle(this.viewport);
    const colors = {
      text: style.getPropertyValue('--vscode-editor-foreground').trim() || '#ccc',
      muted: style.getPropertyValue('--vscode-descriptionForeground').trim() || '#999',
      box: style.getPropertyValue('--vscode-editorWidget-background').trim() || '#222',
      edge: style.getPropertyValue('--vscode-editorWidget-border').trim() || '#777',
      focus: style.getPropertyValue('--vscode-focusBorder').trim() || '#0078d4',
      danger: style.getPropertyValue('--vscode-errorForeground').trim() || '#f85149',
      font: style.getPropertyValue('--vscode-font-family').trim() || 'sans-serif',
    };
    const [x0, y0, x1, y1] = [-x / scale, -y / scale, (width - x) / scale, (height - y) / scale];
    ctx.setTransform(ratio * scale, 0, 0, ratio * scale, ratio * x, ratio * y);
    ctx.strokeStyle = colors.edge;
    ctx.lineWidth = 1.2 / Math.max(scale, 0.5);
    ctx.beginPath();
    g.edges.forEach((e, k) => {
      const b = this.edgeBoxes.subarray(k * 4, k * 4 + 4);
      if (b[2] < x0 || b[0] > x1 || b[3] < y0 || b[1] > y1 || e.points.length < 4) return;
      ctx.moveTo(e.points[0], e.points[1]);
      for (let p = 2; p < e.points.length; p += 2) ctx.lineTo(e.points[p], e.points[p + 1]);
    });
    ctx.stroke();
    const visible = this.nodesIn(x0, y0, x1, y1);
    this.canvas.dataset.visibleNodes = String(visible.length);
    for (const i of visible) this.paintNode(ctx, g.nodes[i], i === this.selected, scale >= TEXT_SCALE, colors);
  }

  private paintNode(ctx: CanvasRenderingContext2D, n: GraphNodeView, selected: boolean, detailed: boolean, colors: Record<string, string>): void {
    const left = n.x - n.width / 2;
    const top = n.y - n.height / 2;
    ctx.fillStyle = colors.box;
    ctx.fillRect(left, top, n.width, n.height);
    ctx.fillStyle = opColor(n.opType);
    ctx.fillRect(left, top, 6, n.height);
    const flagged = (n.stats?.dead ?? 0) > 0 || (n.stats?.saturated ?? 0) > 0;
    ctx.lineWidth = selected ? 3 : 1;
    ctx.strokeStyle = selected ? colors.focus : flagged ? colors.danger : opColor(n.opType);
    ctx.strokeRect(left, top, n.width, n.height);
    if (!detailed) return;
    const thumb = n.stats?.thumbnail ? this.thumbnail(n.stats.thumbnail) : undefined;
    const textWidth = n.width - 16 - (thumb ? n.height - 8 : 0);
    ctx.textBaseline = 'top';
    ctx.fillStyle = colors.text;
    ctx.font = `600 12px ${colors.font}`;
    ctx.fillText(n.opType, left + 12, top + 6, textWidth);
    ctx.font = `11px ${colors.font}`;
    ctx.fillStyle = colors.muted;
    ctx.fillText(n.name, left + 12, top + 21, textWidth);
    const s = n.stats;
    const line = s ? `μ ${s.mean.toPrecision(3)} · ${percent(s.zeroFraction, 0)} zeros` : formatShape(n.shape);
    ctx.fillText(line, left + 12, top + 36, textWidth);
    if (s && flagged) {
      ctx.fillStyle = colors.danger;
      ctx.font = `600 11px ${colors.font}`;
      ctx.fillText([s.dead ? `${s.dead} dead` : '', s.saturated ? `${s.saturated} saturated` : ''].filter(Boolean).join(' · '), left + 12, top + 50, textWidth);
    } else if (s) {
      ctx.fillText(formatShape(n.shape), left + 12, top + 50, textWidth);
    }
    if (thumb?.complete && thumb.naturalWidth > 0) {
      const side = n.height - 8;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(thumb, left + n.width - side - 4, top + 4, side, side);
    }
  }

  /** The thumbnail's image, decoded once; the view is redrawn when it has loaded. */
  private thumbnail(dataUrl: string): HTMLImageElement {
    let image = this.thumbnails.get(dataUrl);
    if (!image) {
      image = new Image();
      image.addEventListener('load', () => this.draw());
      image.src = dataUrl;
      this.thumbnails.set(dataUrl, image);
    }
    return image;
  }

  /** Selects a node; `byUser`: it becomes the store's selected layer, and is scrolled into view otherwise. */
  private select(index: number, byUser: boolean): void {
    const g = this.graph;
    if (!g) return;
    this.selected = index;
    const node = g.nodes[index];
    if (byUser) {
      if (this.store.state.model?.layers.some((l) => l.name === node.name)) this.store.update({ selectedLayer: node.name });
    } else {
      const { scale } = this.view;
      const width = this.viewport.clientWidth;
      const height = this.viewport.clientHeight;
      const sx = node.x * scale + this.view.x;
      const sy = node.y * scale + this.view.y;
      if (sx < 0 || sx > width || sy < 0 || sy > height) this.view = { scale, x: width / 2 - node.x * scale, y: height / 2 - node.y * scale };
    }
    this.renderDetail();
  }

  private renderDetail(): void {
    const node = this.selected !== undefined ? this.graph?.nodes[this.selected] : undefined;
    this.draw();
    if (!node) return replaceChildren(this.detail, h('p', { class: 'muted' }, 'Click a node to see its activations and select its layer.'));
    const layer: LayerView | undefined = this.store.state.model?.layers.find((l) => l.name === node.name);
    const s = node.stats;
    const rows: [string, string | HTMLElement][] = [
      ['Op', node.opType],
      ['Output', node.tensor],
      ['Shape', formatShape(node.shape)],
    ];
    if (layer?.scope) rows.push(['Module', layer.scope]);
    if (s) {
      rows.push(['Mean', s.mean.toPrecision(4)], ['Max', s.max.toPrecision(4)], ['Zeros', percent(s.zeroFraction)], ['Channels', String(s.channels)]);
      rows.push(['Dead', h('span', { class: s.dead ? 'flag' : '' }, `${s.dead} of ${s.channels}`)]);
      if (s.saturated !== undefined) rows.push(['Saturated', h('span', { class: s.saturated ? 'flag' : '' }, `${s.saturated} of ${s.channels}`)]);
    }
    const goToCode = layer?.hasSource ? h('vscode-button', { id: 'graph-open-source' }, 'Go to code') : null;
    goToCode?.addEventListener('click', () => post({ type: 'openSource', layer: node.name }));
    const activations = layer && node.shape?.length === 4 ? h('vscode-button', { id: 'graph-activations', secondary: true }, 'Show activations') : null;
    activations?.addEventListener('click', () => this.onShowActivations(node.name));
    replaceChildren(
      this.detail,
      h('h3', {}, node.name),
      h(
        'dl',
        {},
        rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
      ),
      s?.thumbnail ? h('img', { class: 'graph-thumb', src: s.thumbnail, alt: `Mean activation over the channels of ${node.name}` }) : null,
      s ? null : h('p', { class: 'muted' }, this.store.state.selectedImageId ? 'No statistics for this node.' : 'Choose an image for activation statistics.'),
      h('div', { class: 'actions' }, goToCode, activations),
    );
  }
}
