// The input chooser: thumbnails of the images the host offers (click or Enter selects; arrows
// move), a "Choose files…" button, and image files dropped anywhere on the panel.
import type { ImageView } from '../../src/protocol';
import { h, initRoving, replaceChildren, rovingFocus } from '../dom';
import { post } from '../host';
import { State, Store } from '../store';

const IMAGE_FILE = /\.(png|jpe?g|bmp|webp|gif|tiff?)$/i;
// Tensors and signals: .npy for any model, WAV for signal models (the worker refuses the wrong kind in a sentence).
const TENSOR_FILE = /\.(npy|wav)$/i;
const MAX_DROP_BYTES = 48 * 1024 * 1024;

export class ImageStrip {
  readonly element = h('section', { class: 'images', 'aria-label': 'Input images' });
  private readonly list = h('div', { class: 'thumbs', role: 'listbox', 'aria-label': 'Images', 'aria-orientation': 'horizontal' });
  private shown?: { images: ImageView[]; selected?: string };
  private readonly hint = h('span', { class: 'hint' }, 'or drop image files onto the panel');

  constructor(private readonly store: Store) {
    const choose = h('vscode-button', { id: 'choose-files', onClick: () => post({ type: 'pickImages' }) }, 'Choose files…');
    this.element.append(this.list, h('div', { class: 'image-actions' }, choose, this.hint));
    rovingFocus(this.list, '.thumb', { vertical: false });
    store.subscribe((s) => this.render(s));
  }

  private render(s: State): void {
    // A signal or video model (input [N, C, L] or [N, C, T, H, W]) takes .npy files (and WAV for signals).
    const rank = s.model?.inputs[0]?.shape.length;
    this.hint.textContent = rank === 3 ? 'or drop .npy or WAV files onto the panel' : rank === 5 ? 'or drop .npy clips onto the panel' : 'or drop image files onto the panel';
    if (this.shown?.images === s.images && this.shown.selected === s.selectedImageId) return;
    const focused = this.list.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.imageId : undefined;
    this.shown = { images: s.images, selected: s.selectedImageId };
    const thumbs = byFolder(s.images).map((image) => this.thumb(image, image.id === s.selectedImageId));
    replaceChildren(this.list, thumbs.length ? thumbs : h('span', { class: 'empty' }, 'No images yet.'));
    const selected = thumbs.find((t) => t.getAttribute('aria-selected') === 'true');
    initRoving(thumbs, selected);
    thumbs.find((t) => t.dataset.imageId === focused)?.focus();
    // The chosen image stays in view, however it was chosen (here, in the Dataset tab, by the host).
    selected?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  private thumb(image: ImageView, selected: boolean): HTMLElement {
    const where = image.folder ? `${image.folder}/${image.name}` : image.name;
    return h(
      'div',
      {
        class: 'thumb',
        role: 'option',
        'aria-selected': String(selected),
        'data-image-id': image.id,
        'aria-label': where,
        title: `${where} (${sizeOf(image)})`,
        onClick: () => this.select(image.id),
        onKeydown: (e) => {
          const key = (e as KeyboardEvent).key;
          if (key === 'Enter' || key === ' ') {
            e.preventDefault();
            this.select(image.id);
          }
        },
      },
      h('img', { src: image.dataUrl, alt: '' }),
      h('span', { class: 'thumb-name' }, image.name),
      image.folder ? h('span', { class: 'thumb-folder' }, image.folder) : null,
    );
  }

  private select(imageId: string): void {
    if (imageId === this.store.state.selectedImageId) return;
    this.store.update({ selectedImageId: imageId });
    post({ type: 'selectImage', imageId });
  }
}

/** An input's size as its thumbnail's tooltip says it: pixels, a signal's channels and samples, a clip's frames. */
function sizeOf(image: ImageView): string {
  if (image.signal) return `${image.signal.channels} channel${image.signal.channels === 1 ? '' : 's'} × ${image.signal.length} samples`;
  if (image.frames) return `${image.frames.length} frames of ${image.width}×${image.height}`;
  return `${image.width}×${image.height}`;
}

const naturally = new Intl.Collator('en', { numeric: true }).compare;

/** Images ordered by folder (those without one, dropped or picked, last), then by name in natural order (2 before 10). */
function byFolder(images: ImageView[]): ImageView[] {
  return [...images].sort((a, b) => (a.folder === undefined ? 1 : 0) - (b.folder === undefined ? 1 : 0) || naturally(a.folder ?? '', b.folder ?? '') || naturally(a.name, b.name));
}

/** Accepts image files dropped anywhere on the page: reads them as base64 and posts dropImages. */
export function acceptDroppedImages(store: Store, target: HTMLElement): void {
  const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  let depth = 0;
  target.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    target.classList.add('dropping');
  });
  target.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) target.classList.remove('dropping');
  });
  target.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer!.dropEffect = 'copy';
  });
  target.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    target.classList.remove('dropping');
    void postDropped(store, [...e.dataTransfer!.files]);
  });
}

async function postDropped(store: Store, files: File[]): Promise<void> {
  const images = files.filter((f) => f.type.startsWith('image/') || IMAGE_FILE.test(f.name) || TENSOR_FILE.test(f.name));
  const skipped = files.filter((f) => !images.includes(f)).map((f) => f.name);
  const total = images.reduce((sum, f) => sum + f.size, 0);
  if (images.length === 0) return store.update({ error: { message: `None of the dropped files is an image, a .npy or a WAV file (${skipped.join(', ')}).` } });
  if (total > MAX_DROP_BYTES) return store.update({ error: { message: `The dropped images are ${(total / 2 ** 20).toFixed(0)} MiB together; drop at most 48 MiB at a time.` } });
  const encoded = await Promise.all(images.slice(0, 64).map(async (f) => ({ name: f.name, base64: toBase64(new Uint8Array(await f.arrayBuffer())) })));
  post({ type: 'dropImages', files: encoded });
  if (skipped.length) store.update({ notice: `Skipped files that are not images, .npy or WAV files: ${skipped.join(', ')}.` });
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(binary);
}
