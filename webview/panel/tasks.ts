// Segmentation and detection models in the Explain tab: the predicted mask over the image with a
// legend of classes (their pixel share; a class explains its predicted region), a drawn region
// (pointer drag as a rectangle or freehand, or typed coordinates) explained for a chosen class,
// and a detector's boxes after NMS with their score and IoU thresholds (a box, on the image or in
// the list, explains box:I). The explained box or region stays outlined over the explanation.
import type { DetectionView, MaskData, ModelView, TargetSpec, TaskOutputsView } from '../../src/protocol';
import { h, percent, replaceChildren, Select, setOptions } from '../dom';
import { loadImage } from '../overlay';
import { isRunning, State, Store } from '../store';
import { classColor } from '../svg';

type Segmentation = Extract<TaskOutputsView, { kind: 'segmentation' }>;
type Detections = Extract<TaskOutputsView, { kind: 'detection' }>;

/** What an explained target covers, in the task's space (mask or input pixels): outlined over the explanation. */
type Shape = { kind: 'box'; box: [number, number, number, number]; space: [number, number] } | { kind: 'mask'; width: number; height: number; values: ArrayLike<number> };

/** Whether the model's outputs look like a segmentation map or a detection head (or it runs NMS itself). */
export function hasStructuredOutputs(model: ModelView | undefined): boolean {
  if (!model) return false;
  if ((model.opHistogram['NonMaxSuppression'] ?? 0) > 0) return true;
  return model.outputs.some((o) => {
    const shape = o.shape;
    if (shape.length === 4) return shape.slice(2).some((d) => typeof d !== 'number' || d > 1);
    return shape.length === 3;
  });
}

/** Canvas resolution of the task figure's long side. */
const FIGURE_SIDE = 384;

export class TaskView {
  readonly element: HTMLElement;
  /** Drawn over the explanation figure: the outline of the explained box or region. */
  readonly outline = h('canvas', { class: 'task-outline', 'aria-hidden': 'true' });
  private readonly title = h('h3', {}, 'Segmentation');
  private readonly status = h('p', { class: 'muted small', role: 'status' });
  private readonly canvas = h('canvas', { class: 'task-figure', role: 'img', 'aria-label': 'Predicted mask over the image', tabindex: -1 });
  private readonly legend = h('ul', { class: 'task-legend', 'aria-label': 'Classes of the predicted mask' });
  private readonly boxes = h('ul', { class: 'task-boxes', 'aria-label': 'Detected boxes' });
  private readonly notes = h('ul', { class: 'notes small' });
  private readonly minScore = h('vscode-textfield', { id: 'task-min-score', type: 'number', min: 0, max: 1, step: 0.05, value: '0.25', 'aria-label': 'Score threshold' }) as Select;
  private readonly iou = h('vscode-textfield', { id: 'task-iou', type: 'number', min: 0, max: 1, step: 0.05, value: '0.45', 'aria-label': 'NMS IoU threshold' }) as Select;
  private readonly thresholds: HTMLElement;
  private readonly thresholdProblem = h('div', { class: 'task-error', role: 'alert', hidden: true });
  // Drawing a region.
  private readonly regionClass = h('vscode-single-select', { id: 'region-class', label: 'Region class' }) as Select;
  private readonly regionShape = h('vscode-single-select', { id: 'region-shape', label: 'Region shape' }) as Select;
  private readonly drawToggle = h('button', { type: 'button', class: 'task-button', id: 'draw-region', 'aria-pressed': 'false' }, 'Draw region');
  private readonly coordinates = (['x', 'y', 'width', 'height'] as const).map(
    (name) => h('vscode-textfield', { id: `region-${name}`, type: 'number', min: 0, 'aria-label': `Region ${name} (mask pixels)`, placeholder: name }) as Select,
  );
  private readonly explainRegion = h('button', { type: 'button', class: 'task-button', id: 'explain-region' }, 'Explain region');
  private readonly regionProblem = h('div', { class: 'task-error', role: 'alert', hidden: true });
  private readonly drawing: HTMLElement;
  private drawMode = false;
  /** The drawn region in mask pixels: a rectangle, or a freehand outline. */
  private region?: { kind: 'rect'; x: number; y: number; width: number; height: number } | { kind: 'path'; points: [number, number][] };
  private stroke?: [number, number][];
  private shown?: { result: TaskOutputsView; image?: string };
  private requested?: { model: ModelView; key: string };
  private image?: HTMLImageElement;
  private readonly explained = new Map<string, Shape>();
  private outlined?: string;

  constructor(
    private readonly store: Store,
    private readonly explain: (target: TargetSpec, label: string) => void,
  ) {
    setOptions(this.regionShape, [
      { value: 'rect', label: 'Rectangle' },
      { value: 'path', label: 'Freehand' },
    ]);
    this.thresholds = h(
      'div',
      { class: 'task-thresholds' },
      h('label', { class: 'control', for: 'task-min-score' }, h('span', { class: 'control-label' }, 'Score ≥'), this.minScore),
      h('label', { class: 'control', for: 'task-iou' }, h('span', { class: 'control-label' }, 'NMS IoU'), this.iou),
      this.thresholdProblem,
    );
    for (const field of [this.minScore, this.iou]) field.addEventListener('change', () => this.render(this.store.state));
    this.drawing = h(
      'div',
      { class: 'task-drawing', role: 'group', 'aria-label': 'Draw a region to explain' },
      h('div', { class: 'task-row' }, this.regionClass, this.regionShape, this.drawToggle),
      h('div', { class: 'task-row' }, this.coordinates),
      h('div', { class: 'task-row' }, this.explainRegion),
      this.regionProblem,
    );
    this.drawToggle.addEventListener('click', () => this.setDrawMode(!this.drawMode));
    this.explainRegion.addEventListener('click', () => this.explainDrawn());
    for (const field of this.coordinates) field.addEventListener('input', () => this.typedRegion());
    this.canvas.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.pointerMove(e));
    this.canvas.addEventListener('pointerup', (e) => this.pointerUp(e));
    this.canvas.addEventListener('click', (e) => this.clickBox(e));
    this.element = h(
      'section',
      { class: 'card task', 'aria-label': 'Masks and boxes', hidden: true },
      this.title,
      this.status,
      this.thresholds,
      h('div', { class: 'task-figure-wrap' }, this.canvas),
      this.legend,
      this.boxes,
      this.drawing,
      this.notes,
    );
    store.subscribe((s) => this.render(s));
  }

  private thresholdValues(): { minScore: number; iou: number } | string {
    const minScore = Number(this.minScore.value);
    const iou = Number(this.iou.value);
    if (this.minScore.value.trim() === '' || !(minScore >= 0 && minScore <= 1)) return 'The score threshold is a number from 0 to 1.';
    if (this.iou.value.trim() === '' || !(iou >= 0 && iou <= 1)) return 'The IoU threshold is a number from 0 to 1.';
    return { minScore, iou };
  }

  private render(s: State): void {
    const structured = hasStructuredOutputs(s.model);
    this.element.hidden = !structured;
    const imageId = s.selectedImageId;
    if (!structured || !imageId || !s.model) return this.drawOutline(undefined);
    const thresholds = this.thresholdValues();
    this.thresholdProblem.textContent = typeof thresholds === 'string' ? thresholds : '';
    this.thresholdProblem.hidden = typeof thresholds !== 'string';
    const result = s.results.taskOutputs;
    const key = `${imageId}|${typeof thresholds === 'string' ? '' : `${thresholds.minScore}|${thresholds.iou}`}`;
    const current =
      result &&
      result.imageId === imageId &&
      (result.kind !== 'detection' || typeof thresholds === 'string' || (result.minScore === thresholds.minScore && result.iou === thresholds.iou));
    if (!current && typeof thresholds !== 'string' && !isRunning(s, 'taskOutputs') && (this.requested?.model !== s.model || this.requested.key !== key)) {
      this.requested = { model: s.model, key };
      this.store.request('taskOutputs', { imageId, ...thresholds }, 'Reading masks and boxes…');
    }
    const image = this.store.selectedImage();
    if (!result || result.imageId !== imageId) {
      this.status.textContent = isRunning(s, 'taskOutputs') ? 'Reading the model’s masks and boxes…' : '';
    } else if (this.shown?.result !== result || this.shown.image !== image?.dataUrl) {
      this.shown = { result, image: image?.dataUrl };
      this.show(result, image?.dataUrl);
    }
    const e = this.store.shownExplanation();
    this.drawOutline(e ? this.explained.get(shapeKey(e.imageId, e.target)) && shapeKey(e.imageId, e.target) : undefined);
  }

  private show(result: TaskOutputsView, dataUrl: string | undefined): void {
    this.thresholds.hidden = result.kind !== 'detection';
    this.legend.hidden = result.kind !== 'segmentation';
    this.drawing.hidden = result.kind !== 'segmentation';
    this.boxes.hidden = result.kind !== 'detection';
    this.canvas.hidden = result.kind === 'none';
    this.region = undefined;
    if (result.kind === 'none') {
      this.title.textContent = 'Masks and boxes';
      this.status.textContent = `Nothing to draw: ${result.note}.`;
      replaceChildren(this.notes);
      return;
    }
    replaceChildren(
      this.notes,
      result.notes.map((n) => h('li', {}, n)),
    );
    if (result.kind === 'segmentation') {
      this.title.textContent = 'Segmentation';
      this.status.textContent = 'Choose a class to explain its predicted region, or draw a region.';
      this.canvas.setAttribute(
        'aria-label',
        `Predicted mask over the image: ${result.classes
          .filter((c) => c.pixels > 0)
          .map((c) => `${c.label} ${percent(c.share)}`)
          .join(', ')}`,
      );
      this.renderLegend(result);
      setOptions(
        this.regionClass,
        result.classes.map((c) => ({ value: String(c.index), label: c.label })),
        String(result.classes.find((c) => c.index > 0 && c.pixels > 0)?.index ?? result.classes[0]?.index ?? 0),
      );
    } else {
      this.title.textContent = 'Detections';
      this.status.textContent = result.detections.length
        ? 'Choose a box, on the image or in the list, to explain its score.'
        : `No box scores ${result.minScore} or more: lower the score threshold.`;
      this.canvas.setAttribute('aria-label', `${result.detections.length} detected boxes over the image`);
      this.renderBoxes(result);
    }
    void this.drawFigure(result, dataUrl);
  }

  private renderLegend(result: Segmentation): void {
    replaceChildren(
      this.legend,
      result.classes.map((c) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'task-item',
              'data-class': c.index,
              disabled: c.pixels === 0,
              title: `Explain the ${c.label} region: ${percent(c.share)} of the pixels`,
              onClick: () => this.explainClass(result, c.index),
            },
            // Background is not tinted on the figure: its swatch is an empty ring.
            c.label === 'background' ? h('span', { class: 'swatch hollow', 'aria-hidden': 'true' }) : swatch(c.index),
            h('span', { class: 'task-label' }, c.label),
            ' ',
            h('span', { class: 'pred-prob muted' }, percent(c.share)),
          ),
        ),
      ),
    );
  }

  private renderBoxes(result: Detections): void {
    replaceChildren(
      this.boxes,
      result.detections.map((d) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'task-item',
              'data-box': d.index,
              title: `Explain box ${d.index}: ${d.label}, score ${d.score.toFixed(3)}, at (${d.box.map((v) => Math.round(v)).join(', ')})`,
              onClick: () => this.explainBox(result, d),
            },
            swatch(d.class),
            h('span', { class: 'task-label' }, `Box ${d.index}: ${d.label}`),
            ' ',
            h('span', { class: 'pred-prob muted' }, `score ${d.score.toFixed(2)}`),
          ),
        ),
      ),
    );
  }

  private async drawFigure(result: Segmentation | Detections, dataUrl: string | undefined): Promise<void> {
    try {
      this.image = dataUrl ? await loadImage(dataUrl) : undefined;
    } catch {
      this.image = undefined;
    }
    if (this.shown?.result !== result) return;
    this.redraw();
  }

  /** Image, then the mask (classes other than background at half opacity) or the boxes with labels, then the region being drawn. */
  private redraw(): void {
    const result = this.shown?.result;
    if (!result || result.kind === 'none') return;
    const [w, h0] = result.kind === 'segmentation' ? [result.width, result.height] : result.space;
    const scale = FIGURE_SIDE / Math.max(w, h0);
    this.canvas.width = Math.round(w * scale);
    this.canvas.height = Math.round(h0 * scale);
    const ctx = this.canvas.getContext('2d')!;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.image) ctx.drawImage(this.image, 0, 0, this.canvas.width, this.canvas.height);
    if (result.kind === 'segmentation') {
      const mask = document.createElement('canvas');
      [mask.width, mask.height] = [result.width, result.height];
      const pixels = new ImageData(result.width, result.height);
      const colors = result.classes.map((c) => (c.label === 'background' ? undefined : rgb(classColor(c.index))));
      result.classIds.forEach((k, p) => {
        const color = colors[k];
        if (color) pixels.data.set([...color, 140], p * 4);
      });
      mask.getContext('2d')!.putImageData(pixels, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(mask, 0, 0, this.canvas.width, this.canvas.height);
      this.drawRegion(ctx, scale);
    } else {
      ctx.font = 'bold 13px sans-serif';
      for (const d of result.detections) {
        const [x0, y0, x1, y1] = d.box.map((v) => v * scale);
        ctx.lineWidth = 3;
        ctx.strokeStyle = classColor(d.class);
        ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
        const text = `${d.index} ${d.label} ${d.score.toFixed(2)}`;
        const width = ctx.measureText(text).width + 6;
        const top = y0 >= 18 ? y0 - 18 : y0;
        ctx.fillStyle = classColor(d.class);
        ctx.fillRect(x0 - 1.5, top, width, 18);
        ctx.fillStyle = '#000000';
        ctx.fillText(text, x0 + 1.5, top + 13);
      }
    }
  }

  private drawRegion(ctx: CanvasRenderingContext2D, scale: number): void {
    const points = this.stroke ?? (this.region?.kind === 'path' ? this.region.points : undefined);
    ctx.setLineDash([5, 3]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#ffffff';
    if (points && points.length > 1) {
      ctx.beginPath();
      points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x * scale, y * scale) : ctx.lineTo(x * scale, y * scale)));
      ctx.closePath();
      ctx.stroke();
    } else if (this.region?.kind === 'rect') {
      const r = this.region;
      ctx.strokeRect(r.x * scale, r.y * scale, r.width * scale, r.height * scale);
    }
    ctx.setLineDash([]);
  }

  private explainClass(result: Segmentation, cls: number): void {
    const target: TargetSpec = { kind: 'region', class: cls, mask: 'predicted', output: result.output };
    const values = result.classIds.map((k) => (k === cls ? 1 : 0));
    this.remember(result.imageId, target, { kind: 'mask', width: result.width, height: result.height, values });
    this.explain(target, `${result.classes[cls]?.label ?? `class ${cls}`} region`);
  }

  private explainBox(result: Detections, d: DetectionView): void {
    const target: TargetSpec = { kind: 'box', index: d.index, output: result.output, iou: result.iou, minScore: result.minScore, sigmoid: result.sigmoid };
    if (result.boxes) target.boxes = result.boxes;
    this.remember(result.imageId, target, { kind: 'box', box: d.box, space: result.space });
    this.explain(target, `box ${d.index} (${d.label})`);
  }

  private remember(imageId: string, target: TargetSpec, shape: Shape): void {
    this.explained.set(shapeKey(imageId, target), shape);
    // A handful of targets per image is enough to outline what the panel shows.
    if (this.explained.size > 64) this.explained.delete(this.explained.keys().next().value!);
  }

  // Drawing.

  private setDrawMode(on: boolean): void {
    this.drawMode = on;
    this.drawToggle.setAttribute('aria-pressed', String(on));
    this.drawToggle.textContent = on ? 'Drawing… (drag on the image)' : 'Draw region';
    this.canvas.classList.toggle('drawing', on);
  }

  /** A pointer position in mask pixels. */
  private maskPoint(e: PointerEvent | MouseEvent, space: [number, number]): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * space[0];
    const y = ((e.clientY - rect.top) / rect.height) * space[1];
    return [Math.min(space[0], Math.max(0, x)), Math.min(space[1], Math.max(0, y))];
  }

  private segmentation(): Segmentation | undefined {
    const r = this.shown?.result;
    return r?.kind === 'segmentation' ? r : undefined;
  }

  private pointerDown(e: PointerEvent): void {
    const seg = this.segmentation();
    if (!this.drawMode || !seg) return;
    this.canvas.setPointerCapture?.(e.pointerId);
    this.stroke = [this.maskPoint(e, [seg.width, seg.height])];
  }

  private pointerMove(e: PointerEvent): void {
    const seg = this.segmentation();
    if (!this.stroke || !seg) return;
    const point = this.maskPoint(e, [seg.width, seg.height]);
    if (this.regionShape.value === 'path') this.stroke.push(point);
    else this.stroke = [this.stroke[0], [point[0], this.stroke[0][1]], point, [this.stroke[0][0], point[1]]];
    this.redraw();
  }

  private pointerUp(e: PointerEvent): void {
    const seg = this.segmentation();
    if (!this.stroke || !seg) return;
    this.pointerMove(e);
    const points = this.stroke;
    this.stroke = undefined;
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const [x0, y0] = [Math.floor(Math.min(...xs)), Math.floor(Math.min(...ys))];
    const [x1, y1] = [Math.ceil(Math.max(...xs)), Math.ceil(Math.max(...ys))];
    this.region = this.regionShape.value === 'path' && points.length > 2 ? { kind: 'path', points } : { kind: 'rect', x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    // The typed fields show the drawn region's bounds (a freehand outline's bounding box).
    [x0, y0, x1 - x0, y1 - y0].forEach((v, i) => (this.coordinates[i].value = String(v)));
    this.setDrawMode(false);
    this.redraw();
    this.validateRegion();
  }

  /** Typed coordinates make a rectangle (the keyboard's way to draw). */
  private typedRegion(): void {
    const [x, y, width, height] = this.coordinates.map((f) => Number(f.value));
    this.region = { kind: 'rect', x, y, width, height };
    this.redraw();
    this.validateRegion();
  }

  /** The drawn region as a mask at the output's size, or why there is none. */
  private regionMask(seg: Segmentation): MaskData | string {
    const r = this.region;
    if (!r) return 'Draw a region on the image, or type its x, y, width and height in mask pixels.';
    if (r.kind === 'rect') {
      const { x, y, width, height } = r;
      if (![x, y, width, height].every(Number.isInteger) || x < 0 || y < 0 || width < 1 || height < 1 || x + width > seg.width || y + height > seg.height) {
        return `The region must be whole pixels inside the ${seg.width}×${seg.height} mask, at least 1×1.`;
      }
      const values = new Array<number>(seg.width * seg.height).fill(0);
      for (let row = y; row < y + height; row++) values.fill(1, row * seg.width + x, row * seg.width + x + width);
      return { width: seg.width, height: seg.height, values };
    }
    // A freehand outline: the pixels whose centres lie inside the polygon (even-odd rule).
    const values = new Array<number>(seg.width * seg.height).fill(0);
    const points = r.points;
    for (let row = 0; row < seg.height; row++) {
      for (let col = 0; col < seg.width; col++) {
        const [px, py] = [col + 0.5, row + 0.5];
        let inside = false;
        for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
          const [xi, yi] = points[i];
          const [xj, yj] = points[j];
          if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
        }
        if (inside) values[row * seg.width + col] = 1;
      }
    }
    return values.some((v) => v > 0) ? { width: seg.width, height: seg.height, values } : 'The outline holds no whole pixel: draw a larger region.';
  }

  private validateRegion(): MaskData | string | undefined {
    const seg = this.segmentation();
    if (!seg) return undefined;
    const mask = this.regionMask(seg);
    this.regionProblem.textContent = typeof mask === 'string' && this.region ? mask : '';
    this.regionProblem.hidden = typeof mask !== 'string' || !this.region;
    return mask;
  }

  private explainDrawn(): void {
    const seg = this.segmentation();
    const mask = this.validateRegion();
    if (!seg || !mask) return;
    if (typeof mask === 'string') {
      this.regionProblem.textContent = mask;
      this.regionProblem.hidden = false;
      return;
    }
    const cls = Number(this.regionClass.value);
    const target: TargetSpec = { kind: 'region', class: cls, mask, output: seg.output };
    this.remember(seg.imageId, target, { kind: 'mask', width: mask.width, height: mask.height, values: mask.values });
    this.explain(target, `${seg.classes[cls]?.label ?? `class ${cls}`} in the drawn region`);
  }

  /** A click on the detector's figure explains the smallest box under the pointer. */
  private clickBox(e: MouseEvent): void {
    const r = this.shown?.result;
    if (r?.kind !== 'detection') return;
    const [x, y] = this.maskPoint(e, r.space);
    const under = r.detections.filter((d) => x >= d.box[0] && x <= d.box[2] && y >= d.box[1] && y <= d.box[3]);
    const area = (d: DetectionView) => (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]);
    const hit = under.sort((a, b) => area(a) - area(b))[0];
    if (hit) this.explainBox(r, hit);
  }

  /** Outlines the explained box or region over the explanation (or clears the outline). */
  private drawOutline(key: string | undefined): void {
    if (key === this.outlined) return;
    this.outlined = key;
    const shape = key ? this.explained.get(key) : undefined;
    this.outline.hidden = !shape;
    if (!shape) return;
    const [w, h0] = shape.kind === 'box' ? shape.space : [shape.width, shape.height];
    const scale = FIGURE_SIDE / Math.max(w, h0);
    this.outline.width = Math.round(w * scale);
    this.outline.height = Math.round(h0 * scale);
    const ctx = this.outline.getContext('2d')!;
    ctx.clearRect(0, 0, this.outline.width, this.outline.height);
    // White over black: visible over any colormap.
    for (const [color, width] of [
      ['#000000', 4],
      ['#ffffff', 2],
    ] as const) {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.beginPath();
      if (shape.kind === 'box') {
        const [x0, y0, x1, y1] = shape.box.map((v) => v * scale);
        ctx.rect(x0, y0, x1 - x0, y1 - y0);
      } else {
        // The mask's boundary: the edges between a pixel inside and one outside.
        const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < shape.width && y < shape.height && shape.values[y * shape.width + x] > 0.5;
        for (let y = 0; y < shape.height; y++) {
          for (let x = 0; x < shape.width; x++) {
            if (!inside(x, y)) continue;
            if (!inside(x, y - 1)) edge(ctx, x, y, x + 1, y, scale);
            if (!inside(x, y + 1)) edge(ctx, x, y + 1, x + 1, y + 1, scale);
            if (!inside(x - 1, y)) edge(ctx, x, y, x, y + 1, scale);
            if (!inside(x + 1, y)) edge(ctx, x + 1, y, x + 1, y + 1, scale);
          }
        }
      }
      ctx.stroke();
    }
  }
}

function edge(ctx: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number, scale: number): void {
  ctx.moveTo(x0 * scale, y0 * scale);
  ctx.lineTo(x1 * scale, y1 * scale);
}

function shapeKey(imageId: string, target: TargetSpec): string {
  return `${imageId}|${JSON.stringify(target)}`;
}

function swatch(cls: number): HTMLElement {
  const span = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  span.style.background = classColor(cls);
  return span;
}

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
