// A scatter plot of up to hundreds of thousands of points on one canvas: points are stamped into
// an ImageData buffer (no path per point, no DOM element per point), errors drawn larger with a
// red ring on top, chosen points with a white ring. A uniform grid over the data bounds (about
// four points a cell) answers "which point is under the pointer" and "which points are inside the
// lasso" without visiting every point. The wheel zooms around the pointer, dragging pans, dragging
// with Shift (or in lasso mode) draws a lasso that chooses the points inside it.
import { WRONG_COLOR } from '../../svg';

/** Pointer distance (CSS pixels) within which a point counts as hovered. */
const HIT_RADIUS = 8;
const MIN_ZOOM = 1;
const MAX_ZOOM = 512;
/** Pointer travel (CSS pixels) from which a press is a drag, not a click. */
const DRAG_THRESHOLD = 3;
const PAD = 12;
/** Up to this many points are drawn with a larger radius. */
const FEW_POINTS = 5000;

export interface ScatterStyle {
  /** Colour index per point into `palette`. */
  colour: Uint8Array;
  /** CSS colours (#rrggbb). */
  palette: string[];
  /** 1 where a point is an error: drawn larger, ringed and on top. */
  emphasis?: Uint8Array;
}

export interface ScatterEvents {
  hover(index: number | undefined, at: { x: number; y: number }): void;
  open(index: number): void;
  select(indices: number[]): void;
}

/** Pixel offsets of a disc of `radius`, and of the ring just outside it. */
function stamp(radius: number): { fill: [number, number][]; ring: [number, number][] } {
  const fill: [number, number][] = [];
  const ring: [number, number][] = [];
  const outer = Math.ceil(radius + 1);
  for (let dy = -outer; dy <= outer; dy++) {
    for (let dx = -outer; dx <= outer; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 <= radius * radius) fill.push([dx, dy]);
      else if (d2 <= (radius + 1) * (radius + 1)) ring.push([dx, dy]);
    }
  }
  return { fill, ring };
}

/** #rrggbb as a little-endian RGBA word for a Uint32Array view of ImageData. */
function rgbaWord(colour: string): number {
  const v = parseInt(colour.slice(1, 7), 16);
  return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}

export class Scatter {
  readonly canvas: HTMLCanvasElement;
  /** Milliseconds the last draw took. */
  lastFrameMs = 0;
  lasso = false;
  private xy: Float32Array = new Float32Array(0);
  private style: ScatterStyle = { colour: new Uint8Array(0), palette: ['#888888'] };
  private chosen = new Uint8Array(0);
  private bounds = { x0: 0, y0: 0, x1: 1, y1: 1 };
  private grid = { side: 1, cellStart: new Int32Array(2), items: new Uint32Array(0) };
  private zoom = 1;
  /** Data point at the centre of the view. */
  private centre = { x: 0.5, y: 0.5 };
  private press?: { x: number; y: number; centre: { x: number; y: number }; lasso: { x: number; y: number }[] | undefined; moved: boolean };
  private lassoPath: { x: number; y: number }[] = [];
  private hovered?: number;
  private scheduled = false;

  constructor(
    private readonly width: number,
    private readonly height: number,
    private readonly events: ScatterEvents,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'scatter';
    this.canvas.tabIndex = 0;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.aspectRatio = `${width} / ${height}`;
    this.canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    this.canvas.addEventListener('pointerdown', (e) => this.down(e));
    this.canvas.addEventListener('pointermove', (e) => this.move(e));
    this.canvas.addEventListener('pointerup', (e) => this.up(e));
    this.canvas.addEventListener('pointerleave', () => this.setHover(undefined, { x: 0, y: 0 }));
  }

  get count(): number {
    return this.xy.length / 2;
  }

  setPoints(xy: Float32Array): void {
    this.xy = xy;
    this.chosen = new Uint8Array(this.count);
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < xy.length; i += 2) {
      x0 = Math.min(x0, xy[i]);
      x1 = Math.max(x1, xy[i]);
      y0 = Math.min(y0, xy[i + 1]);
      y1 = Math.max(y1, xy[i + 1]);
    }
    if (!(x1 >= x0)) [x0, y0, x1, y1] = [0, 0, 1, 1];
    this.bounds = { x0, y0, x1: x1 > x0 ? x1 : x0 + 1, y1: y1 > y0 ? y1 : y0 + 1 };
    this.buildGrid();
    this.resetView();
  }

  setStyle(style: ScatterStyle): void {
    this.style = style;
    this.requestDraw();
  }

  setChosen(indices: number[]): void {
    this.chosen.fill(0);
    for (const i of indices) if (i < this.count) this.chosen[i] = 1;
    this.requestDraw();
  }

  resetView(): void {
    this.zoom = 1;
    this.centre = { x: (this.bounds.x0 + this.bounds.x1) / 2, y: (this.bounds.y0 + this.bounds.y1) / 2 };
    this.requestDraw();
  }

  /** Zooms by `factor` around a point of the canvas (CSS pixels). */
  zoomAt(factor: number, at: { x: number; y: number }): void {
    const before = this.toData(at.x, at.y);
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const after = this.toData(at.x, at.y);
    this.centre = { x: this.centre.x + before.x - after.x, y: this.centre.y + before.y - after.y };
    this.requestDraw();
  }

  /** Canvas position (CSS pixels) of point i. */
  positionOf(i: number): { x: number; y: number } {
    return this.toScreen(this.xy[2 * i], this.xy[2 * i + 1]);
  }

  /** Data units per CSS pixel, same on both axes so distances read true. */
  private unitsPerPixel(): number {
    const { x0, y0, x1, y1 } = this.bounds;
    return Math.max((x1 - x0) / (this.width - 2 * PAD), (y1 - y0) / (this.height - 2 * PAD)) / this.zoom;
  }

  // y grows downwards on screen: flipped so the map reads like a plot.
  private toScreen(x: number, y: number): { x: number; y: number } {
    const u = this.unitsPerPixel();
    return { x: this.width / 2 + (x - this.centre.x) / u, y: this.height / 2 - (y - this.centre.y) / u };
  }

  private toData(sx: number, sy: number): { x: number; y: number } {
    const u = this.unitsPerPixel();
    return { x: this.centre.x + (sx - this.width / 2) * u, y: this.centre.y - (sy - this.height / 2) * u };
  }

  private buildGrid(): void {
    const n = this.count;
    const side = Math.max(1, Math.ceil(Math.sqrt(n / 4)));
    const cellOf = new Int32Array(n);
    const cellStart = new Int32Array(side * side + 1);
    for (let i = 0; i < n; i++) {
      const c = this.cellIndex(this.xy[2 * i], this.xy[2 * i + 1], side);
      cellOf[i] = c;
      cellStart[c + 1]++;
    }
    for (let c = 0; c < side * side; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, side * side);
    const items = new Uint32Array(n);
    for (let i = 0; i < n; i++) items[fill[cellOf[i]]++] = i;
    this.grid = { side, cellStart, items };
  }

  private cellCoord(v: number, lo: number, hi: number, side: number): number {
    return Math.min(side - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * side)));
  }

  private cellIndex(x: number, y: number, side: number): number {
    const { x0, y0, x1, y1 } = this.bounds;
    return this.cellCoord(y, y0, y1, side) * side + this.cellCoord(x, x0, x1, side);
  }

  /** Calls `visit` for every point in the grid cells that overlap the data box. */
  private visitBox(x0: number, y0: number, x1: number, y1: number, visit: (i: number) => void): void {
    const { side, cellStart, items } = this.grid;
    const b = this.bounds;
    const [cx0, cx1] = [this.cellCoord(x0, b.x0, b.x1, side), this.cellCoord(x1, b.x0, b.x1, side)];
    const [cy0, cy1] = [this.cellCoord(y0, b.y0, b.y1, side), this.cellCoord(y1, b.y0, b.y1, side)];
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * side + cx;
        for (let k = cellStart[c]; k < cellStart[c + 1]; k++) visit(items[k]);
      }
    }
  }

  /** The point nearest to a canvas position within HIT_RADIUS CSS pixels. */
  hitTest(sx: number, sy: number): number | undefined {
    if (this.count === 0) return undefined;
    const p = this.toData(sx, sy);
    const r = HIT_RADIUS * this.unitsPerPixel();
    let best: number | undefined;
    let bestDistance = r * r;
    this.visitBox(p.x - r, p.y - r, p.x + r, p.y + r, (i) => {
      const d = (this.xy[2 * i] - p.x) ** 2 + (this.xy[2 * i + 1] - p.y) ** 2;
      // Errors are drawn on top: among equally near points the error wins.
      if (d < bestDistance || (d === bestDistance && best !== undefined && this.style.emphasis?.[i] && !this.style.emphasis[best])) {
        bestDistance = d;
        best = i;
      }
    });
    return best;
  }

  /** The points inside a polygon given in canvas positions (even-odd rule), ascending. */
  pointsInside(polygon: { x: number; y: number }[]): number[] {
    if (polygon.length < 3) return [];
    const data = polygon.map((q) => this.toData(q.x, q.y));
    const xs = data.map((q) => q.x);
    const ys = data.map((q) => q.y);
    const inside: number[] = [];
    this.visitBox(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys), (i) => {
      const [x, y] = [this.xy[2 * i], this.xy[2 * i + 1]];
      let odd = false;
      for (let a = 0, b = data.length - 1; a < data.length; b = a++) {
        if (data[a].y > y !== data[b].y > y && x < ((data[b].x - data[a].x) * (y - data[a].y)) / (data[b].y - data[a].y) + data[a].x) odd = !odd;
      }
      if (odd) inside.push(i);
    });
    return inside.sort((a, b) => a - b);
  }

  private requestDraw(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  /** Draws every point now; returns the milliseconds it took. */
  draw(): number {
    const started = performance.now();
    const ctx = this.canvas.getContext('2d')!;
    const [w, h] = [this.canvas.width, this.canvas.height];
    const image = ctx.createImageData(w, h);
    const pixels = new Uint32Array(image.data.buffer);
    const ratio = w / this.width;
    const words = this.style.palette.map(rgbaWord);
    const ringWord = rgbaWord(WRONG_COLOR);
    const chosenWord = rgbaWord('#ffffff');
    // Few points are drawn larger; many small, so blobs keep their shape.
    const radius = this.count <= FEW_POINTS ? 3 : 1.5;
    const small = stamp(radius * ratio);
    const large = stamp(2 * radius * ratio);
    const u = this.unitsPerPixel() / ratio;
    const [cx, cy] = [w / 2 - this.centre.x / u, h / 2 + this.centre.y / u];
    const put = (px: number, py: number, offsets: [number, number][], word: number) => {
      for (const [dx, dy] of offsets) {
        const x = px + dx;
        const y = py + dy;
        if (x >= 0 && y >= 0 && x < w && y < h) pixels[y * w + x] = word;
      }
    };
    const n = this.count;
    const emphasis = this.style.emphasis;
    // Two passes: plain points, then errors and chosen points on top.
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) {
        const on = (emphasis?.[i] ?? 0) | this.chosen[i];
        if (on !== pass) continue;
        const px = Math.round(cx + this.xy[2 * i] / u);
        const py = Math.round(cy - this.xy[2 * i + 1] / u);
        if (px < -8 || py < -8 || px > w + 8 || py > h + 8) continue;
        const word = words[this.style.colour[i]] ?? words[0];
        if (pass === 0) {
          put(px, py, small.fill, word);
          continue;
        }
        const shape = emphasis?.[i] ? large : small;
        put(px, py, shape.ring, this.chosen[i] ? chosenWord : ringWord);
        put(px, py, shape.fill, word);
      }
    }
    ctx.putImageData(image, 0, 0);
    this.drawOverlay(ctx, ratio);
    this.lastFrameMs = performance.now() - started;
    // Read by the bench and the tests: how long the last frame took and how many were drawn.
    this.canvas.dataset.frameMs = this.lastFrameMs.toFixed(2);
    this.canvas.dataset.frames = String(Number(this.canvas.dataset.frames ?? 0) + 1);
    return this.lastFrameMs;
  }

  /** The hovered point's ring and the lasso being drawn, over the points. */
  private drawOverlay(ctx: CanvasRenderingContext2D, ratio: number): void {
    ctx.save();
    ctx.scale(ratio, ratio);
    if (this.hovered !== undefined) {
      const p = this.positionOf(this.hovered);
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(p.x, p.y, 6, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (this.lassoPath.length > 1) {
      ctx.strokeStyle = '#ffcc00';
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      this.lassoPath.forEach((q, k) => (k ? ctx.lineTo(q.x, q.y) : ctx.moveTo(q.x, q.y)));
      ctx.closePath();
      ctx.stroke();
    }
    ctx.restore();
  }

  private local(e: MouseEvent): { x: number; y: number } {
    // The content box: the border lies outside the drawn pixels.
    const box = this.canvas.getBoundingClientRect();
    const scale = this.canvas.clientWidth / this.width || 1;
    return { x: (e.clientX - box.left - this.canvas.clientLeft) / scale, y: (e.clientY - box.top - this.canvas.clientTop) / scale };
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    this.zoomAt(Math.exp(-e.deltaY / 300), this.local(e));
  }

  private down(e: PointerEvent): void {
    const at = this.local(e);
    const lasso = this.lasso || e.shiftKey ? [at] : undefined;
    this.press = { ...at, centre: { ...this.centre }, lasso, moved: false };
    this.canvas.setPointerCapture?.(e.pointerId);
  }

  private move(e: PointerEvent): void {
    const at = this.local(e);
    const press = this.press;
    if (!press) return this.setHover(this.hitTest(at.x, at.y), at);
    if (Math.hypot(at.x - press.x, at.y - press.y) >= DRAG_THRESHOLD) press.moved = true;
    if (press.lasso) {
      press.lasso.push(at);
      this.lassoPath = press.lasso;
    } else if (press.moved) {
      const u = this.unitsPerPixel();
      this.centre = { x: press.centre.x - (at.x - press.x) * u, y: press.centre.y + (at.y - press.y) * u };
    }
    this.requestDraw();
  }

  private up(e: PointerEvent): void {
    const press = this.press;
    this.press = undefined;
    if (!press) return;
    const at = this.local(e);
    if (press.lasso && press.moved) {
      const inside = this.pointsInside(press.lasso);
      this.lassoPath = [];
      this.setChosen(inside);
      this.events.select(inside);
    } else if (!press.moved) {
      this.lassoPath = [];
      const i = this.hitTest(at.x, at.y);
      if (i !== undefined) this.events.open(i);
    }
    this.requestDraw();
  }

  setHover(index: number | undefined, at: { x: number; y: number }): void {
    if (index === this.hovered) return;
    this.hovered = index;
    this.events.hover(index, at);
    this.requestDraw();
  }
}
