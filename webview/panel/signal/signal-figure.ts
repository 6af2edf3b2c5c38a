// A signal [C, L] with its explanation map [L]: each channel (the first MAX_LANES) drawn as a line
// in its own lane over the map as a coloured band (the overlay's colormap and opacity; signed maps
// diverging, alpha |value|), and the map again at full strength in a strip under the lanes. Hover,
// or the arrow keys on the focused figure, read out the position, the channels' values and the
// map's value there.
import type { ImageView, MapData } from '../../../src/protocol';
import { ColormapName, colorize } from '../../colormap';
import { h } from '../../dom';

/** Channels drawn as lanes (the worker sends the values of these only: SHOWN_CHANNELS); a signal with more says which are shown. */
export const MAX_LANES = 4;
const WIDTH = 720;
const LANE = 84;
const GAP = 6;
const STRIP = 16;

export interface SignalData {
  channels: number;
  length: number;
  values: number[];
}

const format = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(3));

export class SignalFigure {
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly readout = h('p', { class: 'signal-readout small', 'aria-live': 'polite' });
  private readonly note = h('p', { class: 'muted small signal-note' });
  private shown?: { signal: SignalData; map?: MapData; colormap: ColormapName; opacity: number; title: string };
  private cursor?: number;

  constructor() {
    this.canvas = h('canvas', { class: 'signal-figure', role: 'img', tabindex: 0 });
    this.element = h('div', { class: 'signal-view' }, this.canvas, this.readout, this.note);
    this.canvas.addEventListener('mousemove', (e) => {
      const rect = this.canvas.getBoundingClientRect();
      this.point(Math.floor(((e.clientX - rect.left) / rect.width) * (this.shown?.signal.length ?? 0)));
    });
    this.canvas.addEventListener('keydown', (e) => {
      const length = this.shown?.signal.length ?? 0;
      const at = this.cursor ?? -1;
      const step = Math.max(1, Math.round(length / 32));
      const next: Record<string, number> = { ArrowRight: at + 1, ArrowLeft: at - 1, PageUp: at + step, PageDown: at - step, Home: 0, End: length - 1 };
      if (!(e.key in next) || length === 0) return;
      e.preventDefault();
      this.point(Math.max(0, Math.min(length - 1, next[e.key])));
    });
  }

  /** Draws `image.signal` with `map` (a [L] map of the same length; another map is not drawn). */
  show(image: ImageView, map: MapData | undefined, display: { colormap: ColormapName; opacity: number }, title: string, key: string): void {
    const signal = image.signal!;
    const fits = map && map.shape?.length === 1 && map.shape[0] === signal.length;
    const s = this.shown;
    if (s && s.signal === signal && s.map === map && s.colormap === display.colormap && s.opacity === display.opacity && s.title === title) return;
    this.shown = { signal, map: fits ? map : undefined, ...display, title };
    // Another input: the read-out position is no longer the one pointed at.
    if (s?.signal !== signal) this.cursor = undefined;
    const lanes = Math.min(signal.channels, MAX_LANES);
    this.note.textContent = [
      signal.channels > MAX_LANES ? `Showing the first ${MAX_LANES} of ${signal.channels} channels.` : '',
      map && !fits ? `The map's shape [${(map.shape ?? [map.height, map.width]).join(', ')}] is not the signal's length ${signal.length}; it is not drawn.` : '',
    ]
      .filter(Boolean)
      .join(' ');
    this.canvas.setAttribute('aria-label', this.describe(lanes));
    this.draw();
    this.readout.textContent = this.cursor === undefined ? 'Point at the figure (or focus it and use the arrow keys) to read the values.' : this.readoutText(this.cursor);
    this.canvas.dataset.rendered = key;
  }

  /** The figure as drawn, as a PNG data URL (what "Export PNG" writes). */
  png(): string {
    return this.canvas.toDataURL('image/png');
  }

  private describe(lanes: number): string {
    const s = this.shown!;
    const what = `Signal of ${s.signal.channels} channel${s.signal.channels === 1 ? '' : 's'} × ${s.signal.length} samples${lanes < s.signal.channels ? `, the first ${lanes} drawn` : ''}`;
    if (!s.map) return what;
    let peak = 0;
    for (let i = 1; i < s.map.values.length; i++) if (Math.abs(s.map.values[i]) > Math.abs(s.map.values[peak])) peak = i;
    return `${what}, with the ${s.title} map as a coloured band${s.map.signed ? ' (signed: diverging map)' : ''}; its strongest value is at sample ${peak}`;
  }

  private point(index: number): void {
    if (!this.shown || index < 0 || index >= this.shown.signal.length) return;
    this.cursor = index;
    this.draw();
    this.readout.textContent = this.readoutText(index);
  }

  private readoutText(i: number): string {
    const { signal, map } = this.shown!;
    const lanes = Math.min(signal.channels, MAX_LANES);
    const values = Array.from({ length: lanes }, (_, c) => `${signal.channels > 1 ? `channel ${c + 1} ` : 'value '}${format(signal.values[c * signal.length + i])}`);
    return [`Sample ${i} of ${signal.length}`, ...values, map ? `map ${format(map.values[i])}` : ''].filter(Boolean).join(' · ');
  }

  private draw(): void {
    const { signal, map, colormap, opacity } = this.shown!;
    const lanes = Math.min(signal.channels, MAX_LANES);
    const canvas = this.canvas;
    canvas.width = WIDTH;
    canvas.height = lanes * (LANE + GAP) + (map ? STRIP : 0);
    const ctx = canvas.getContext('2d')!;
    const style = getComputedStyle(canvas);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const band = map ? mapRow(map, colormap) : undefined;
    for (let c = 0; c < lanes; c++) {
      const top = c * (LANE + GAP);
      ctx.fillStyle = style.getPropertyValue('--lane-bg') || 'rgba(128,128,128,0.12)';
      ctx.fillRect(0, top, WIDTH, LANE);
      if (band) {
        ctx.imageSmoothingEnabled = true;
        ctx.globalAlpha = Math.min(1, Math.max(0, opacity));
        ctx.drawImage(band, 0, top, WIDTH, LANE);
        ctx.globalAlpha = 1;
      }
      drawLine(ctx, signal.values.slice(c * signal.length, (c + 1) * signal.length), top + 4, LANE - 8, style.color || '#ccc');
    }
    if (band) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(band, 0, lanes * (LANE + GAP), WIDTH, STRIP);
    }
    if (this.cursor !== undefined) {
      const x = ((this.cursor + 0.5) / signal.length) * WIDTH;
      ctx.strokeStyle = style.getPropertyValue('--cursor') || style.color || '#ccc';
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      // Across the lanes only: the strip under them stays the map as it is.
      ctx.moveTo(x, 0);
      ctx.lineTo(x, lanes * (LANE + GAP) - GAP);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }
}

/** The map as one row of pixels, one per sample, in the colormap (signed: diverging, alpha |value|). */
export function mapRow(map: MapData, colormap: ColormapName): HTMLCanvasElement {
  const row = document.createElement('canvas');
  row.width = map.values.length;
  row.height = 1;
  row.getContext('2d')!.putImageData(colorize({ width: map.values.length, height: 1, values: map.values, signed: map.signed }, colormap), 0, 0);
  return row;
}

/** One channel as a line, min–max scaled into the lane (`width` pixels wide); more samples than pixels: each column's range. */
export function drawLine(ctx: CanvasRenderingContext2D, values: ArrayLike<number>, top: number, height: number, color: string, width = WIDTH): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const range = max - min || 1;
  const y = (v: number) => top + (1 - (v - min) / range) * height;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  if (values.length <= width) {
    for (let i = 0; i < values.length; i++) {
      const x = ((i + 0.5) / values.length) * width;
      if (i === 0) ctx.moveTo(x, y(values[i]));
      else ctx.lineTo(x, y(values[i]));
    }
  } else {
    for (let x = 0; x < width; x++) {
      const from = Math.floor((x * values.length) / width);
      const to = Math.floor(((x + 1) * values.length) / width);
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = from; i < to; i++) {
        lo = Math.min(lo, values[i]);
        hi = Math.max(hi, values[i]);
      }
      ctx.moveTo(x + 0.5, y(hi));
      ctx.lineTo(x + 0.5, y(lo) + 0.5);
    }
  }
  ctx.stroke();
}
