// A video [C, T, H, W] with its explanation map [T, H, W]: the chosen frame large with its map over
// it, a Frame slider, and a strip of every frame with its map (click or arrow keys choose). The
// map's values are scaled over the whole clip, so one colour scale (the legend's) holds for all
// frames. "Export PNG" writes the strip: every frame with its map, side by side.
import type { ImageView, MapData } from '../../../src/protocol';
import { ColormapName } from '../../colormap';
import { h, initRoving, replaceChildren, rovingFocus } from '../../dom';
import { drawOverlay, loadImage } from '../../overlay';

const STRIP_SIDE = 72;

interface Shown {
  frames: string[];
  map?: MapData;
  colormap: ColormapName;
  opacity: number;
  title: string;
}

export class VideoFigure {
  readonly element: HTMLElement;
  readonly canvas = h('canvas', { class: 'overlay video-frame', role: 'img' });
  private readonly slider: HTMLInputElement;
  private readonly frameLabel = h('span', { class: 'frame-label small', 'aria-live': 'polite' });
  private readonly strip = h('div', { class: 'frame-strip', role: 'listbox', 'aria-label': 'Frames', 'aria-orientation': 'horizontal' });
  private readonly note = h('p', { class: 'muted small video-note' });
  private shown?: Shown;
  private decoded: HTMLImageElement[] = [];
  private frame = 0;
  private generation = 0;

  constructor() {
    this.slider = h('input', { type: 'range', id: 'frame', min: 0, max: 0, step: 1, value: 0, 'aria-label': 'Frame' });
    this.slider.addEventListener('input', () => this.choose(Number(this.slider.value)));
    rovingFocus(this.strip, '.frame-thumb', { vertical: false });
    this.strip.addEventListener('focusin', (e) => {
      const t = (e.target as HTMLElement).dataset.frame;
      if (t !== undefined) this.choose(Number(t));
    });
    this.element = h(
      'div',
      { class: 'video-view' },
      h('div', { class: 'figure-wrap' }, this.canvas),
      h('label', { class: 'control frame-control', for: 'frame' }, h('span', { class: 'control-label' }, 'Frame'), this.slider, this.frameLabel),
      this.strip,
      this.note,
    );
  }

  /** Draws the frames with `map` (a [T, H, W] map of the clip's frames; another map is not drawn). */
  async show(image: ImageView, map: MapData | undefined, display: { colormap: ColormapName; opacity: number }, title: string, key: string): Promise<void> {
    const frames = image.frames!;
    const fits = map && map.shape?.length === 3 && map.shape[0] === frames.length;
    const s = this.shown;
    if (s && s.frames === frames && s.map === (fits ? map : undefined) && s.colormap === display.colormap && s.opacity === display.opacity && s.title === title) return;
    const framesChanged = s?.frames !== frames;
    this.shown = { frames, map: fits ? map : undefined, ...display, title };
    this.note.textContent =
      map && !fits ? `The map's shape [${(map.shape ?? [map.height, map.width]).join(', ')}] does not have the clip's ${frames.length} frames; it is not drawn.` : '';
    const generation = ++this.generation;
    if (framesChanged) {
      this.frame = Math.min(this.frame, frames.length - 1);
      this.decoded = await Promise.all(frames.map((f) => loadImage(f)));
      if (generation !== this.generation) return;
      this.buildStrip();
    }
    this.slider.max = String(frames.length - 1);
    this.drawAll();
    this.canvas.dataset.rendered = key;
  }

  /** The strip of frames with their maps, at the frames' resolution, as a PNG data URL. */
  png(): string {
    const s = this.shown!;
    const [width, height] = s.map ? [s.map.width, s.map.height] : [this.decoded[0].naturalWidth, this.decoded[0].naturalHeight];
    const one = document.createElement('canvas');
    const out = document.createElement('canvas');
    const scale = Math.max(1, Math.ceil(96 / Math.max(width, height)));
    const gap = 4;
    out.width = s.frames.length * (width * scale + gap) - gap;
    out.height = height * scale;
    const ctx = out.getContext('2d')!;
    s.frames.forEach((_, t) => {
      drawOverlay(one, this.decoded[t], this.frameMap(t), { colormap: s.colormap, opacity: s.opacity, minSide: 96 });
      ctx.drawImage(one, t * (width * scale + gap), 0, width * scale, height * scale);
    });
    return out.toDataURL('image/png');
  }

  private frameMap(t: number): MapData | undefined {
    const map = this.shown?.map;
    if (!map) return undefined;
    const plane = map.width * map.height;
    return { width: map.width, height: map.height, values: map.values.slice(t * plane, (t + 1) * plane), signed: map.signed };
  }

  private buildStrip(): void {
    const thumbs = this.decoded.map((_, t) =>
      h('canvas', {
        class: 'frame-thumb',
        role: 'option',
        'data-frame': t,
        'aria-label': `Frame ${t + 1} of ${this.decoded.length}`,
        'aria-selected': String(t === this.frame),
        onClick: () => this.choose(t),
      }),
    );
    replaceChildren(this.strip, thumbs);
    initRoving(thumbs, thumbs[this.frame]);
  }

  private choose(t: number): void {
    if (!this.shown || t === this.frame || t < 0 || t >= this.shown.frames.length) return;
    this.frame = t;
    this.drawAll();
  }

  private drawAll(): void {
    const s = this.shown!;
    const options = { colormap: s.colormap, opacity: s.opacity };
    drawOverlay(this.canvas, this.decoded[this.frame], this.frameMap(this.frame), { ...options, minSide: 320 });
    const count = s.frames.length;
    this.canvas.setAttribute(
      'aria-label',
      `Frame ${this.frame + 1} of ${count}${s.map ? ` with the ${s.title} map over it${s.map.signed ? ' (signed: diverging map)' : ''}; one colour scale for all frames` : ''}`,
    );
    this.slider.value = String(this.frame);
    this.slider.setAttribute('aria-valuetext', `Frame ${this.frame + 1} of ${count}`);
    this.frameLabel.textContent = `${this.frame + 1} / ${count}`;
    this.strip.querySelectorAll<HTMLCanvasElement>('.frame-thumb').forEach((thumb, t) => {
      drawOverlay(thumb, this.decoded[t], this.frameMap(t), { ...options, minSide: STRIP_SIDE });
      thumb.setAttribute('aria-selected', String(t === this.frame));
    });
  }
}
