// The layer selected in one view (the Graph tab) becomes the layer of every tab's layer picker
// that offers it.
import { Select, selectOption } from './dom';
import { Store } from './store';

/** Makes a layer picker follow the store's selected layer when the picker offers it. */
export function followSelectedLayer(store: Store, select: Select): void {
  let followed: string | undefined;
  store.subscribe((s) => {
    if (s.selectedLayer === followed) return;
    followed = s.selectedLayer;
    if (followed && [...select.querySelectorAll('vscode-option')].some((o) => o.getAttribute('value') === followed)) selectOption(select, followed);
  });
}
