// The Explain tab's figure for inputs that are not pictures: a signal's line plot or a video's
// frames (signal-figure.ts, video-figure.ts), chosen by what the selected input carries. The
// explain tab asks it first and draws its picture overlay only when it declines.
import type { ImageView, MapData } from '../../../src/protocol';
import { isMapData } from '../../../src/protocol';
import type { ColormapName } from '../../colormap';
import { adoptStyles, h } from '../../dom';
import { SignalFigure } from './signal-figure';
import { VideoFigure } from './video-figure';
import css from './signal.css';

export class NdFigure {
  readonly element = h('div', { class: 'nd-figure' });
  private signal?: SignalFigure;
  private video?: VideoFigure;
  private active?: SignalFigure | VideoFigure;

  /**
   * Shows a signal's or a video's figure for `image` with `map` and returns true; returns false
   * (and hides) for a picture. A map whose fields disagree (isMapData) is not drawn.
   */
  show(image: ImageView | undefined, map: MapData | undefined, display: { colormap: ColormapName; opacity: number }, title: string, key: string): boolean {
    const checked = map && isMapData(map) ? map : undefined;
    if (image?.signal) {
      adoptStyles(css);
      this.signal ??= new SignalFigure();
      this.activate(this.signal);
      this.signal.show(image, checked, display, title, key);
      return true;
    }
    if (image?.frames?.length) {
      adoptStyles(css);
      this.video ??= new VideoFigure();
      this.activate(this.video);
      void this.video.show(image, checked, display, title, key);
      return true;
    }
    this.element.hidden = true;
    return false;
  }

  /** The figure shown, as a PNG data URL, for the export; undefined for a picture. */
  png(): string | undefined {
    return this.element.hidden ? undefined : this.active?.png();
  }

  private activate(figure: SignalFigure | VideoFigure): void {
    this.element.hidden = false;
    if (this.active === figure) return;
    this.active = figure;
    this.element.replaceChildren(figure.element);
  }
}
