// The side view: the current image with its top prediction and the explanation over it; the
// method switches in place and the overlay opacity is adjustable.
import type { Prediction } from '../../src/protocol';
import { h, percent, replaceChildren, Select, selectOption, setOptions } from '../dom';
import { DisplayControls, OverlayFigure } from '../figure';
import { layerLabel } from '../pickers';
import { StatusView } from '../status';
import { State, Store } from '../store';

export function mountSide(root: HTMLElement, store: Store): void {
  const method = h('vscode-single-select', { id: 'side-method', label: 'Method' }) as Select;
  const figure = new OverlayFigure('Explanation overlay', 256);
  const prediction = h('div', { class: 'side-prediction', 'aria-live': 'polite' });
  const caption = h('div', { class: 'muted small side-caption' });
  const empty = h('p', { class: 'empty-state' }, 'No image yet: open a model with ConvLens and pick an image to explain.');
  const content = h('div', { class: 'side-content' }, prediction, h('div', { class: 'figure-wrap' }, figure.canvas), caption);
  const controls = h(
    'div',
    { class: 'side-controls' },
    h('label', { class: 'control' }, h('span', { class: 'control-label' }, 'Method'), method),
    new DisplayControls(store, { idPrefix: 'side-', colormap: false }).element,
  );

  method.addEventListener('change', () => {
    const imageId = store.state.selectedImageId;
    if (!imageId || !method.value) return;
    store.request(
      'explain',
      { imageId, method: method.value, layer: 'auto', target: { kind: 'top' } },
      `${store.state.methods.find((m) => m.name === method.value)?.title ?? method.value}…`,
    );
  });

  let methods: State['methods'] | undefined;
  let shownMethod: string | undefined;
  store.subscribe((s) => {
    const explanation = store.shownExplanation();
    if (s.methods !== methods) {
      methods = s.methods;
      setOptions(
        method,
        s.methods.map((m) => ({ value: m.name, label: m.title })),
        explanation?.method ?? s.preferredMethod,
      );
    }
    // The select follows the explanation shown (the host may push one for another method).
    if (explanation && explanation.method !== shownMethod) selectOption(method, explanation.method);
    shownMethod = explanation?.method;
    const image = store.selectedImage();
    empty.hidden = !!image;
    content.hidden = !image;
    // No method to switch before there is an image to explain.
    controls.hidden = !image;
    if (!image) return;
    renderPrediction(prediction, s.predictions.get(image.id)?.[0]);
    caption.textContent = explanation ? `${explanation.targetLabel}${explanation.layer ? ` · ${layerLabel(s.model, explanation.layer)}` : ''} · ${image.name}` : image.name;
    void figure.show(image, explanation?.map, s, explanation ? explanation.id : `image:${image.id}`);
  });
  replaceChildren(root, new StatusView(store).element, controls, empty, content);
}

function renderPrediction(element: HTMLElement, top: Prediction | undefined): void {
  if (!top) return replaceChildren(element, h('span', { class: 'muted' }, 'Predicting…'));
  replaceChildren(element, h('strong', {}, top.label), h('span', { class: 'muted' }, ` #${top.index}`), ` · ${percent(top.probability)}`);
}
